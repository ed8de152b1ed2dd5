namespace CdpGateway.Telemetry.Tracing;

/// <summary>The W3C trace context an upgrade request carried (<c>traceparent</c>, <c>tracestate</c>), if any.</summary>
public readonly record struct TraceHeaders(string? Parent, string? State)
{
    public static TraceHeaders From(Microsoft.AspNetCore.Http.IHeaderDictionary headers) =>
        new(headers.TryGetValue("traceparent", out var parent) && parent.Count == 1 ? parent[0] : null,
            headers.TryGetValue("tracestate", out var state) && state.Count == 1 ? state[0] : null);
}
