using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CdpGateway.Telemetry.Stats;

/// <summary>
/// <c>GET /stats?window=W</c> (README, "The API port"): the last <c>60s</c> or <c>15m</c> at one-second resolution,
/// or the last <c>1h</c> or <c>24h</c> at one-minute resolution; without <c>window</c>, <c>15m</c>. Any other value is
/// 400 naming the accepted ones.
/// </summary>
public static class StatsEndpoint
{
    public const string DefaultWindow = "15m";

    public static void Map(IEndpointRouteBuilder api) =>
        api.MapGet("/stats", (HttpContext context, StatsSampler sampler, TimeProvider time) =>
        {
            var values = context.Request.Query["window"];
            var window = values.Count == 0 ? DefaultWindow : values.Count == 1 ? values[0] : null;
            if (Window(window) is not { } picked)
            {
                return Results.Json(new StatsError($"window must be one of 60s, 15m, 1h, 24h (got '{string.Join(",", values.ToArray())}')"),
                    StatsJsonContext.Default.StatsError, statusCode: StatusCodes.Status400BadRequest);
            }
            var ring = picked.Minutes ? sampler.Minutes : sampler.Seconds;
            var answer = sampler.Read(ring, r => Answer(r, window!, picked.Samples, time.GetUtcNow()));
            return Results.Json(answer, StatsJsonContext.Default.StatsAnswer);
        });

    private static (bool Minutes, int Samples)? Window(string? window) => window switch
    {
        "60s" => (false, 60),
        "15m" => (false, StatsSampler.SecondCapacity),
        "1h" => (true, 60),
        "24h" => (true, StatsSampler.MinuteCapacity),
        _ => null,
    };

    private static StatsAnswer Answer(StatsRing ring, string window, int last, DateTimeOffset now)
    {
        var n = Math.Min(last, ring.Count);
        var start = n == 0 ? now : ring.NewestEnd - (ring.Step * n);
        var ends = new Dictionary<string, long[]>(DisconnectReasons.All.Count);
        foreach (var reason in DisconnectReasons.All)
        {
            ends[reason.WireName()] = ring.Column(StatsColumns.Ends(reason), n);
        }
        return new StatsAnswer
        {
            Window = window,
            StepSeconds = (int)ring.Step.TotalSeconds,
            Start = start.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            Samples = n,
            ConnectionsOpen = ring.Column(StatsColumns.ConnectionsOpen, n),
            Connects = ring.Column(StatsColumns.Connects, n),
            Ends = ends,
            MessagesFromClient = ring.Column(StatsColumns.MessagesFromClient, n),
            MessagesFromUpstream = ring.Column(StatsColumns.MessagesFromUpstream, n),
            BytesFromClient = ring.Column(StatsColumns.BytesFromClient, n),
            BytesFromUpstream = ring.Column(StatsColumns.BytesFromUpstream, n),
            Commands = ring.Column(StatsColumns.Commands, n),
            ChromiumChanges = ring.Column(StatsColumns.ChromiumChanges, n),
            ChromiumState = ring.States(n),
        };
    }
}
