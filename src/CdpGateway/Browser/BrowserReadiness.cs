using System.Net.WebSockets;
using System.Text.Json;

namespace CdpGateway.Browser;

/// <summary>
/// Ready means: the browser announced a new DevTools URL and answered <c>Browser.getVersion</c> on it. This
/// holds which generation was last found ready, lets restarts wait for a newer one, and probes. A ready browser that
/// stops answering is unreachable (<see cref="ReachabilityWatch"/> decides) until it answers again or another
/// generation is ready.
/// </summary>
public sealed class BrowserReadiness
{
    /// <summary>How long a restart waits for a ready browser before answering 504.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    /// <summary>Pause between failed probes of a just-announced browser (it may still be opening its endpoint).</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(10);

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);
    private static readonly byte[] GetVersion = """{"id":1,"method":"Browser.getVersion"}"""u8.ToArray();

    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private long _readyGeneration;
    private string? _readyUrl;
    private bool _ready;
    private bool _unreachable;
    private TaskCompletionSource _changed = NewSignal();

    public BrowserReadiness(TimeProvider time)
    {
        _time = time;
    }

    public bool IsReady
    {
        get
        {
            lock (_gate)
            {
                return _ready;
            }
        }
    }

    /// <summary>The generation last found ready stopped answering and has not answered since.</summary>
    public bool IsUnreachable
    {
        get
        {
            lock (_gate)
            {
                return _unreachable;
            }
        }
    }

    /// <summary>The URL of the generation last found ready, answering or not; null before the first.</summary>
    public string? ReadyUrl
    {
        get
        {
            lock (_gate)
            {
                return _readyUrl;
            }
        }
    }

    public long ReadyGeneration
    {
        get
        {
            lock (_gate)
            {
                return _readyGeneration;
            }
        }
    }

    /// <summary>
    /// <paramref name="generation"/> answered at <paramref name="url"/>. <paramref name="firstReady"/> runs under the lock
    /// when that generation is found ready for the first time (never again for it, nor for an older one).
    /// </summary>
    public void MarkReady(long generation, string url, Action? firstReady = null)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (generation < _readyGeneration)
            {
                return; // a late probe of a browser already replaced
            }
            var first = generation > _readyGeneration;
            _readyGeneration = generation;
            _readyUrl = url;
            _ready = true;
            _unreachable = false;
            if (first)
            {
                // After the state is set, so whoever acts on what it publishes finds this generation ready.
                firstReady?.Invoke();
            }
            changed = _changed;
            _changed = NewSignal();
        }
        changed.TrySetResult();
    }

    /// <summary>The ready browser ended (or is being replaced).</summary>
    public void MarkNotReady()
    {
        lock (_gate)
        {
            _ready = false;
            // Whoever ended it (an exit, a restart, a new URL) now tells the state; the silence is no longer news.
            _unreachable = false;
        }
    }

    /// <summary>
    /// The ready <paramref name="generation"/> at <paramref name="url"/> stopped answering; false (and nothing changes)
    /// when that browser is no longer the ready one, so a probe that raced a restart or an exit reports nothing.
    /// </summary>
    public bool TryMarkUnreachable(long generation, string url)
    {
        lock (_gate)
        {
            if (!_ready || _readyGeneration != generation || _readyUrl != url)
            {
                return false;
            }
            _ready = false;
            _unreachable = true;
            return true;
        }
    }

    /// <summary>The unreachable <paramref name="generation"/> answered again; false when it is not the unreachable one.</summary>
    public bool TryMarkReachable(long generation, string url)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (!_unreachable || _readyGeneration != generation || _readyUrl != url)
            {
                return false;
            }
            _ready = true;
            _unreachable = false;
            changed = _changed;
            _changed = NewSignal();
        }
        changed.TrySetResult();
        return true;
    }

    /// <summary>
    /// The state at one instant, and a task that completes at the next time a generation is marked ready (or answers
    /// again): a watcher that waits on it misses no change after the snapshot.
    /// </summary>
    public (ReadinessSnapshot Snapshot, Task Changed) Observe()
    {
        lock (_gate)
        {
            return (new ReadinessSnapshot(_ready, _unreachable, _readyGeneration, _readyUrl), _changed.Task);
        }
    }

    /// <summary>Completes with the URL once a generation newer than <paramref name="generation"/> is ready.</summary>
    public async Task<(long Generation, string Url)> WaitReadyAfterAsync(long generation, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_ready && _readyGeneration > generation)
                {
                    return (_readyGeneration, _readyUrl!);
                }
                changed = _changed.Task;
            }
            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Probes <paramref name="url"/> until it answers, then marks <paramref name="generation"/> ready. Gives up
    /// when <paramref name="isCurrent"/> says the browser was replaced, or on cancellation.
    /// <paramref name="answered"/> gets the <see cref="TimeProvider.GetTimestamp"/> of the answer before
    /// anyone waiting for readiness is woken; <paramref name="firstReady"/> gets it too when this made the generation
    /// ready for the first time (see <see cref="MarkReady"/>).
    /// </summary>
    public async Task ProbeUntilReadyAsync(long generation, string url, Func<bool> isCurrent, CancellationToken cancellationToken,
        Action<long>? answered = null, Action<long>? firstReady = null)
    {
        while (isCurrent() && !cancellationToken.IsCancellationRequested)
        {
            if (await AnsweredAtAsync(url, cancellationToken).ConfigureAwait(false) is { } at)
            {
                if (isCurrent())
                {
                    answered?.Invoke(at);
                    MarkReady(generation, url, firstReady is null ? null : () => firstReady(at));
                }
                return;
            }
            try
            {
                await Task.Delay(RetryInterval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One <c>Browser.getVersion</c> round trip on the browser endpoint; false if it fails or times out.</summary>
    public async Task<bool> ProbeAsync(string url, CancellationToken cancellationToken) =>
        await AnsweredAtAsync(url, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>
    /// One <c>Browser.getVersion</c> round trip within <paramref name="timeout"/>: null when it was answered, otherwise
    /// what went wrong, for the operator.
    /// </summary>
    public async Task<string?> CheckAsync(string url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (answered, error) = await RoundTripAsync(url, timeout, cancellationToken).ConfigureAwait(false);
        return answered is not null ? null : error ?? "no answer";
    }

    /// <summary>One <c>Browser.getVersion</c> round trip; the timestamp its reply arrived at, or null if it failed or timed out.</summary>
    private async Task<long?> AnsweredAtAsync(string url, CancellationToken cancellationToken) =>
        (await RoundTripAsync(url, ProbeTimeout, cancellationToken).ConfigureAwait(false)).AnsweredAt;

    private async Task<(long? AnsweredAt, string? Error)> RoundTripAsync(string url, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(limit, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        var ct = linked.Token;
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        try
        {
            await socket.ConnectAsync(new Uri(url), ct).ConfigureAwait(false);
            await socket.SendAsync(GetVersion, WebSocketMessageType.Text, endOfMessage: true, ct).ConfigureAwait(false);
            var buffer = new byte[16 * 1024];
            using var message = new MemoryStream();
            long answeredAt;
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, ct).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return (null, "the browser closed the probe's connection before answering Browser.getVersion");
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }
                if (IsGetVersionReply(message.GetBuffer().AsSpan(0, (int)message.Length)))
                {
                    answeredAt = _time.GetTimestamp();
                    break;
                }
                message.SetLength(0); // an event sent before the reply
            }
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
            {
                // The answer is what mattered.
            }
            return (answeredAt, null);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return (null, $"no answer to Browser.getVersion within {limit.TotalMilliseconds:0} ms");
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or HttpRequestException or UriFormatException)
        {
            return (null, Innermost(e).Message);
        }
    }

    /// <summary>The socket's own words ("Connection refused") rather than the WebSocket wrapper's.</summary>
    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }
        return e;
    }

    private static bool IsGetVersionReply(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.Number && id.GetRawText() == "1"
                && root.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false; // not JSON: keep waiting for the reply
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// What <see cref="BrowserReadiness"/> knew at one instant: whether the last generation found ready still counts as
/// ready, or stopped answering, and which one it was.
/// </summary>
public readonly record struct ReadinessSnapshot(bool Ready, bool Unreachable, long Generation, string? Url);
