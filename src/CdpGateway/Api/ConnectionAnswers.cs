using System.Globalization;
using System.Text.Json.Serialization;
using CdpGateway.Proxy;

namespace CdpGateway.Api;

/// <summary>One open connection as <c>GET /connections</c> shows it: who, since when, and its traffic so far.</summary>
public sealed record ConnectionInfo
{
    [JsonPropertyName("connection_id")] public required string ConnectionId { get; init; }
    [JsonPropertyName("target")] public required string Target { get; init; }
    [JsonPropertyName("page_id")] public string? PageId { get; init; }
    [JsonPropertyName("remote"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? Remote { get; init; }
    [JsonPropertyName("connected_at")] public required string ConnectedAt { get; init; }
    [JsonPropertyName("age_ms")] public long AgeMs { get; init; }
    [JsonPropertyName("messages_from_client")] public long MessagesFromClient { get; init; }
    [JsonPropertyName("messages_from_upstream")] public long MessagesFromUpstream { get; init; }
    [JsonPropertyName("bytes_from_client")] public long BytesFromClient { get; init; }
    [JsonPropertyName("bytes_from_upstream")] public long BytesFromUpstream { get; init; }
    [JsonPropertyName("commands_reported")] public long CommandsReported { get; init; }

    /// <summary>The entry's figures now: each counter read once, without a lock.</summary>
    public static ConnectionInfo From(OpenConnection open, DateTimeOffset now)
    {
        var traffic = open.Traffic;
        return new ConnectionInfo
        {
            ConnectionId = open.ConnectionId,
            Target = open.Target,
            PageId = open.PageId,
            Remote = open.Client,
            ConnectedAt = open.ConnectedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            AgeMs = Math.Max(0, (long)(now - open.ConnectedAt).TotalMilliseconds),
            MessagesFromClient = traffic.MessagesFromClient,
            MessagesFromUpstream = traffic.MessagesFromUpstream,
            BytesFromClient = traffic.BytesFromClient,
            BytesFromUpstream = traffic.BytesFromUpstream,
            CommandsReported = open.CommandsReported,
        };
    }
}

/// <summary><c>GET /connections</c>: the open connections, oldest first.</summary>
public sealed record ConnectionList(
    [property: JsonPropertyName("count")] int Count,
    [property: JsonPropertyName("connections")] IReadOnlyList<ConnectionInfo> Connections);

/// <summary><c>DELETE /connections/{id}</c>: closed (its <c>cdp_disconnect</c> published), or still closing when the answer could not wait longer.</summary>
public sealed record ConnectionClosed(
    [property: JsonPropertyName("connection_id")] string ConnectionId,
    [property: JsonPropertyName("closed")] bool Closed);
