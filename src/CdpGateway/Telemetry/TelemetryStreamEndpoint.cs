using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CdpGateway.Telemetry;

/// <summary>
/// <c>GET /telemetry/stream</c>: the live event stream as Server-Sent Events.
/// </summary>
/// <remarks>
/// Wire format, per event: <c>id: SEQ\ndata: ENVELOPE\n\n</c> (the envelope is compact JSON, one line). Where to
/// start: by default at the current seq (only new events); <c>?replay=all</c> from the oldest retained event; a
/// <c>Last-Event-ID</c> header (wins over replay) right after that seq. A client that falls more than the ring's
/// capacity behind receives <c>event: missed\ndata: {"missed":N}\n\n</c> (a named event without an id, so it does
/// not move the client's Last-Event-ID) and then continues with the oldest retained event. After
/// <see cref="KeepaliveInterval"/> without output a comment line <c>:\n\n</c> is sent so proxies and clients do not
/// time the connection out. The stream ends when the client disconnects or the application stops.
/// </remarks>
internal static class TelemetryStreamEndpoint
{
    public static readonly TimeSpan KeepaliveInterval = TimeSpan.FromSeconds(15);

    // Events written per flush. Bounds the memory one slow client pins and lets a client that is far behind get
    // data flowing before the whole backlog is formatted.
    private const int MaxBatch = 256;

    public static async Task HandleAsync(HttpContext context)
    {
        IServiceProvider services = context.RequestServices;
        EventStream stream = services.GetRequiredService<EventStream>();
        TimeProvider time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        IHostApplicationLifetime lifetime = services.GetRequiredService<IHostApplicationLifetime>();

        if (!TryCreateReader(context.Request, stream, out EventStreamReader? reader, out string? error))
        {
            await TelemetryEndpoints.WriteBadRequestAsync(context, error).ConfigureAwait(false);
            return;
        }

        HttpResponse response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        // Tells nginx-style reverse proxies not to hold events back in their buffers.
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(
            context.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            await PumpAsync(reader, response.BodyWriter, time, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Client gone or the gateway stopping: the normal way for a stream to end.
        }
        catch (IOException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The connection broke while an event was being written.
        }
    }

    private static bool TryCreateReader(
        HttpRequest request, EventStream stream, out EventStreamReader reader, out string error)
    {
        error = "";
        string? lastEventId = request.Headers["Last-Event-ID"];
        if (!string.IsNullOrEmpty(lastEventId))
        {
            if (!long.TryParse(lastEventId.AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long afterSeq))
            {
                reader = null!;
                error = "Last-Event-ID must be a non-negative integer (a seq)";
                return false;
            }
            // Seqs start over at 1 in every gateway process, so an id beyond the current seq was issued by a previous
            // process: everything retained now is new to this client.
            reader = afterSeq > stream.Seq ? stream.CreateReaderFromOldest() : stream.CreateReader(afterSeq);
            return true;
        }

        if (request.Query.TryGetValue("replay", out var replay))
        {
            if (replay.Count != 1 || !string.Equals(replay[0], "all", StringComparison.Ordinal))
            {
                reader = null!;
                error = "replay must be 'all'";
                return false;
            }
            reader = stream.CreateReaderFromOldest();
            return true;
        }

        reader = stream.CreateReader(stream.Seq);
        return true;
    }

    private static async Task PumpAsync(
        EventStreamReader reader, PipeWriter output, TimeProvider time, CancellationToken cancellationToken)
    {
        // Survives keepalive rounds: re-creating it each round would leave one registration on the token per
        // keepalive for as long as the stream stays quiet.
        Task? eventsAvailable = null;
        bool keepaliveDue = false;
        while (true)
        {
            if (keepaliveDue)
            {
                output.Write(":\n\n"u8);
                keepaliveDue = false;
            }

            EventBatch batch = reader.TryRead(MaxBatch);
            if (batch.Missed > 0)
            {
                WriteMissed(output, batch.Missed);
            }
            foreach (EventEnvelope envelope in batch.Events)
            {
                WriteEvent(output, envelope);
            }

            if (batch.Events.Count == MaxBatch)
            {
                // Probably more waiting: send this batch and read on without waiting.
                FlushResult sent = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (sent.IsCompleted || sent.IsCanceled)
                {
                    return;
                }
                continue;
            }

            eventsAvailable ??= reader.WaitAsync(cancellationToken);
            using var keepaliveCancel = new CancellationTokenSource();
            // The keepalive clock starts before the flush, so once a client has received everything written so far
            // the next keepalive is already scheduled (what lets a test advance a fake clock right after reading).
            Task keepalive = Task.Delay(KeepaliveInterval, time, keepaliveCancel.Token);

            FlushResult flushed = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                return;
            }

            Task first = await Task.WhenAny(eventsAvailable, keepalive).ConfigureAwait(false);
            await keepaliveCancel.CancelAsync().ConfigureAwait(false);
            if (first == keepalive)
            {
                keepaliveDue = true;
            }
            else
            {
                // Rethrows the cancellation when the client left or the app is stopping.
                await eventsAvailable.ConfigureAwait(false);
                eventsAvailable = null;
            }
        }
    }

    private static void WriteEvent(PipeWriter output, EventEnvelope envelope)
    {
        Span<byte> digits = stackalloc byte[20];
        envelope.Seq.TryFormat(digits, out int digitCount, default, CultureInfo.InvariantCulture);
        output.Write("id: "u8);
        output.Write(digits[..digitCount]);
        output.Write("\ndata: "u8);
        output.Write(envelope.Utf8Json.Span);
        output.Write("\n\n"u8);
    }

    private static void WriteMissed(PipeWriter output, long missed)
    {
        output.Write("event: missed\ndata: "u8);
        output.Write(JsonSerializer.SerializeToUtf8Bytes(
            new MissedEventsData(missed), TelemetryJsonContext.Default.MissedEventsData));
        output.Write("\n\n"u8);
    }
}
