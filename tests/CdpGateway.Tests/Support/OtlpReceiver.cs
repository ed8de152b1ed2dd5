using System.Net;
using CdpGateway.Tests.Support.Otlp.Collector.Metrics;
using CdpGateway.Tests.Support.Otlp.Collector.Trace;
using CdpGateway.Tests.Support.Otlp.Common;
using CdpGateway.Tests.Support.Otlp.Metrics;
using CdpGateway.Tests.Support.Otlp.Resource;
using CdpGateway.Tests.Support.Otlp.Trace;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Tests.Support;

/// <summary>
/// An OTLP collector for tests: Kestrel on 127.0.0.1, OTLP/HTTP (<c>POST /v1/traces</c> and <c>/v1/metrics</c> with
/// <c>application/x-protobuf</c> bodies) on one port and OTLP/gRPC (the two services' <c>Export</c> over cleartext
/// HTTP/2) on another, decoded with messages compiled from OTLP's own .proto contract (Support/Otlp). Keeps every span
/// and metric it was sent, with the resource that sent it.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private const string Protobuf = "application/x-protobuf";
    private const string Grpc = "application/grpc";

    private readonly WebApplication _app;
    private readonly List<ReceivedSpan> _spans = [];
    private readonly List<ReceivedMetric> _metrics = [];

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>The base URL to give <c>--otlp-endpoint</c>.</summary>
    public string Endpoint { get; private set; } = "";

    /// <summary>The URL to give <c>--otlp-endpoint</c> with <c>--otlp-protocol grpc</c>.</summary>
    public string GrpcEndpoint { get; private set; } = "";

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions? http = null, grpc = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, o => http = o);
            // gRPC without TLS is HTTP/2 with prior knowledge: a port that speaks nothing else.
            k.Listen(IPAddress.Loopback, 0, o => (grpc = o).Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
        });
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", receiver.TracesAsync);
        app.MapPost("/v1/metrics", receiver.MetricsAsync);
        app.MapPost("/opentelemetry.proto.collector.trace.v1.TraceService/Export", receiver.GrpcTracesAsync);
        app.MapPost("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", receiver.GrpcMetricsAsync);
        await app.StartAsync();
        receiver.Endpoint = $"http://127.0.0.1:{http!.IPEndPoint!.Port}";
        receiver.GrpcEndpoint = $"http://127.0.0.1:{grpc!.IPEndPoint!.Port}";
        return receiver;
    }

    public IReadOnlyList<ReceivedSpan> Spans
    {
        get
        {
            lock (_spans)
            {
                return [.. _spans];
            }
        }
    }

    public IReadOnlyList<ReceivedMetric> Metrics
    {
        get
        {
            lock (_metrics)
            {
                return [.. _metrics];
            }
        }
    }

    /// <summary>Waits for a span that matches; returns it.</summary>
    public async Task<ReceivedSpan> WaitForSpanAsync(Func<ReceivedSpan, bool> match, string what)
    {
        ReceivedSpan? found = null;
        await Eventually.TrueAsync(() => (found = Spans.FirstOrDefault(match)) is not null, () => $"{what} (received: {Describe(Spans)})", TestGateway.Patience);
        return found!;
    }

    public async Task<ReceivedMetric> WaitForMetricAsync(string name)
    {
        ReceivedMetric? found = null;
        await Eventually.TrueAsync(() => (found = Metrics.FirstOrDefault(m => m.Metric.Name == name)) is not null,
            () => $"a metric {name} (received: {string.Join(", ", Metrics.Select(m => m.Metric.Name))})", TestGateway.Patience);
        return found!;
    }

    private static string Describe(IEnumerable<ReceivedSpan> spans) =>
        string.Join(", ", spans.Select(s => $"{s.Span.Name} {s.Attribute("cdp.connection_id")}"));

    private async Task TracesAsync(HttpContext context)
    {
        Keep(ExportTraceServiceRequest.Parser.ParseFrom(await ReadBodyAsync(context)));
        await AnswerAsync(context, new ExportTraceServiceResponse());
    }

    private async Task MetricsAsync(HttpContext context)
    {
        Keep(ExportMetricsServiceRequest.Parser.ParseFrom(await ReadBodyAsync(context)));
        await AnswerAsync(context, new ExportMetricsServiceResponse());
    }

    private async Task GrpcTracesAsync(HttpContext context)
    {
        Keep(ExportTraceServiceRequest.Parser.ParseFrom(await ReadGrpcMessageAsync(context)));
        await AnswerGrpcAsync(context, new ExportTraceServiceResponse());
    }

    private async Task GrpcMetricsAsync(HttpContext context)
    {
        Keep(ExportMetricsServiceRequest.Parser.ParseFrom(await ReadGrpcMessageAsync(context)));
        await AnswerGrpcAsync(context, new ExportMetricsServiceResponse());
    }

    private void Keep(ExportTraceServiceRequest request)
    {
        lock (_spans)
        {
            foreach (var resource in request.ResourceSpans)
            {
                foreach (var scope in resource.ScopeSpans)
                {
                    _spans.AddRange(scope.Spans.Select(span => new ReceivedSpan(resource.Resource, scope.Scope, span)));
                }
            }
        }
    }

    private void Keep(ExportMetricsServiceRequest request)
    {
        lock (_metrics)
        {
            foreach (var resource in request.ResourceMetrics)
            {
                foreach (var scope in resource.ScopeMetrics)
                {
                    _metrics.AddRange(scope.Metrics.Select(metric => new ReceivedMetric(resource.Resource, metric)));
                }
            }
        }
    }

    /// <summary>One length-prefixed gRPC message: a compression flag (0 here), a 4-byte big-endian length, the message.</summary>
    private static async Task<byte[]> ReadGrpcMessageAsync(HttpContext context)
    {
        Assert.StartsWith(Grpc, context.Request.ContentType, StringComparison.Ordinal);
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        Assert.Equal(0, bytes[0]);
        var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1, 4));
        Assert.Equal(bytes.Length - 5, length);
        return bytes[5..];
    }

    private static async Task AnswerGrpcAsync(HttpContext context, IMessage answer)
    {
        context.Response.ContentType = Grpc;
        var message = answer.ToByteArray();
        var framed = new byte[5 + message.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(1, 4), message.Length);
        message.CopyTo(framed, 5);
        await context.Response.Body.WriteAsync(framed);
        context.Response.AppendTrailer("grpc-status", "0");
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        Assert.StartsWith(Protobuf, context.Request.ContentType, StringComparison.Ordinal);
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        return body.ToArray();
    }

    private static async Task AnswerAsync(HttpContext context, IMessage answer)
    {
        context.Response.ContentType = Protobuf;
        await context.Response.Body.WriteAsync(answer.ToByteArray());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>One span as a collector received it.</summary>
public sealed record ReceivedSpan(Resource Resource, InstrumentationScope Scope, Span Span)
{
    public object? Attribute(string key) => OtlpValues.Find(Span.Attributes, key);

    public object? ResourceAttribute(string key) => OtlpValues.Find(Resource.Attributes, key);

    public string SpanId => Convert.ToHexStringLower(Span.SpanId.Span);

    public string TraceId => Convert.ToHexStringLower(Span.TraceId.Span);

    public string ParentSpanId => Convert.ToHexStringLower(Span.ParentSpanId.Span);
}

/// <summary>One metric as a collector received it.</summary>
public sealed record ReceivedMetric(Resource Resource, Metric Metric)
{
    public object? ResourceAttribute(string key) => OtlpValues.Find(Resource.Attributes, key);
}

/// <summary>An OTLP attribute's value as a plain .NET value.</summary>
public static class OtlpValues
{
    public static object? Find(IEnumerable<KeyValue> attributes, string key) =>
        attributes.FirstOrDefault(a => a.Key == key)?.Value is { } value ? Of(value) : null;

    public static object? Of(AnyValue value) => value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue,
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue,
        AnyValue.ValueOneofCase.BytesValue => value.BytesValue.ToByteArray(),
        _ => null,
    };
}
