using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;

namespace CdpGateway.Telemetry;

/// <summary>
/// The telemetry part of the API port: <c>GET /telemetry</c>, <c>GET /telemetry/events</c> and
/// <c>GET /telemetry/stream</c>. Needs <see cref="EventStream"/>, <see cref="TelemetryConfig"/> and (optionally)
/// <see cref="TimeProvider"/> in DI.
/// </summary>
public static class TelemetryEndpoints
{
    public const int DefaultEventsLimit = 1000;

    /// <summary>The most events one <c>/telemetry/events</c> call returns; a larger limit is capped to it.</summary>
    public const int MaxEventsLimit = 8192;

    /// <summary>How long the SSE stream may stay silent before it sends a keepalive comment.</summary>
    public static TimeSpan StreamKeepaliveInterval => TelemetryStreamEndpoint.KeepaliveInterval;

    public static IEndpointRouteBuilder Map(IEndpointRouteBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        // Plain RequestDelegates: no per-endpoint code generation or reflection over handler signatures.
        api.MapGet("/telemetry", new RequestDelegate(GetStatusAsync));
        api.MapGet("/telemetry/events", new RequestDelegate(GetEventsAsync));
        api.MapGet("/telemetry/stream", new RequestDelegate(TelemetryStreamEndpoint.HandleAsync));
        return api;
    }

    internal static Task WriteBadRequestAsync(HttpContext context, string error)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return context.Response.WriteAsJsonAsync(
            new TelemetryError(error), TelemetryJsonContext.Default.TelemetryError, contentType: null,
            context.RequestAborted);
    }

    private static Task GetStatusAsync(HttpContext context)
    {
        IServiceProvider services = context.RequestServices;
        TelemetryStatus status = TelemetryStatus.Capture(
            services.GetRequiredService<TelemetryConfig>(), services.GetRequiredService<EventStream>(), services.GetService<Nats.NatsEventSink>());
        return context.Response.WriteAsJsonAsync(
            status, TelemetryJsonContext.Default.TelemetryStatus, contentType: null, context.RequestAborted);
    }

    /// <summary><c>GET /telemetry/events?after=SEQ&amp;limit=N&amp;category=C</c>: retained envelopes as a JSON array.</summary>
    private static async Task GetEventsAsync(HttpContext context)
    {
        IQueryCollection query = context.Request.Query;
        if (!TryGetCount(query, "after", DefaultValue: 0, out long after, out string? error)
            || !TryGetCount(query, "limit", DefaultEventsLimit, out long limit, out error)
            || !TryGetCategory(query, out string? category, out error))
        {
            await WriteBadRequestAsync(context, error).ConfigureAwait(false);
            return;
        }
        if (limit == 0)
        {
            await WriteBadRequestAsync(context, "limit must be at least 1").ConfigureAwait(false);
            return;
        }

        EventStream stream = context.RequestServices.GetRequiredService<EventStream>();
        IReadOnlyList<EventEnvelope> events = stream.Snapshot(after, (int)Math.Min(limit, MaxEventsLimit), category);

        // The envelopes are already JSON; the array is assembled from their bytes instead of re-serializing them.
        context.Response.ContentType = "application/json; charset=utf-8";
        PipeWriter output = context.Response.BodyWriter;
        output.Write("["u8);
        for (int i = 0; i < events.Count; i++)
        {
            if (i > 0)
            {
                output.Write(","u8);
            }
            output.Write(events[i].Utf8Json.Span);
        }
        output.Write("]"u8);
        await output.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static bool TryGetCount(
        IQueryCollection query, string name, long DefaultValue, out long value, [NotNullWhen(false)] out string? error)
    {
        error = null;
        value = DefaultValue;
        if (!query.TryGetValue(name, out StringValues raw))
        {
            return true;
        }
        // NumberStyles.None: digits only, so "-1", "+1", " 1" and "1e3" are all refused rather than reinterpreted.
        if (raw.Count != 1 || !long.TryParse(raw[0], NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            error = $"{name} must be a non-negative integer";
            return false;
        }
        return true;
    }

    private static bool TryGetCategory(IQueryCollection query, out string? category, [NotNullWhen(false)] out string? error)
    {
        error = null;
        category = null;
        if (!query.TryGetValue("category", out StringValues raw))
        {
            return true;
        }
        if (raw.Count == 1)
        {
            foreach (string known in EventCategory.All)
            {
                if (string.Equals(raw[0], known, StringComparison.Ordinal))
                {
                    // The interned constant, so Snapshot's comparison usually succeeds on reference equality.
                    category = known;
                    return true;
                }
            }
        }
        error = $"category must be one of: {string.Join(", ", EventCategory.All)}";
        return false;
    }
}
