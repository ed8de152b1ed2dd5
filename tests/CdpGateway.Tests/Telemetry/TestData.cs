using System.Text.Json.Serialization;
using CdpGateway.Telemetry;

namespace CdpGateway.Tests.Telemetry;

/// <summary>A data type whose serialization always fails, to prove a bad event cannot hurt the publisher.</summary>
public sealed class UnserializableData
{
    [JsonPropertyName("value")]
    public int Value => throw new InvalidOperationException("cannot serialize");
}

[JsonSerializable(typeof(UnserializableData))]
internal sealed partial class TestJsonContext : JsonSerializerContext;

internal static class TestEvents
{
    public static long PublishConnect(this IEventPublisher publisher, string id, string category = EventCategory.Connection) =>
        publisher.Publish(ConnectionEventTypes.Connect, category, new CdpConnectData(id, "page", null),
            TelemetryJsonContext.Default.CdpConnectData);
}
