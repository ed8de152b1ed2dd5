using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Telemetry;

/// <summary>
/// <c>--events-file FILE</c>: appends every telemetry envelope to FILE as one JSON line.
/// </summary>
/// <remarks>
/// The publisher only enqueues (a bounded channel; a full queue drops the event and the stream counts it), and a
/// background writer turns the queue into file writes, so a slow or full disk never slows the proxy. Lines are
/// written whole: several complete lines per write call and never a part of one, so a reader tailing the file (or
/// a crash) never sees a torn line from a normal write. Each drained batch is flushed to the OS right away, which
/// puts an event in the file within milliseconds of its publication. The sink registers itself with the stream in
/// its constructor and detaches in <see cref="DisposeAsync"/>.
/// </remarks>
public sealed partial class EventsFileSink : IEventSink, IAsyncDisposable
{
    /// <summary>Events queued but not yet written before further ones are dropped: minutes of heavy traffic.</summary>
    public const int QueueCapacity = 65536;

    // Lines are gathered into one buffer and written together; a batch is cut at this size so one write call stays
    // reasonable. A single line larger than this is written on its own.
    private const int WriteBufferBytes = 64 * 1024;

    private readonly EventStream _stream;
    private readonly ILogger _logger;
    private readonly FileStream _file;
    private readonly Channel<EventEnvelope> _queue;
    private readonly Task _writer;
    private int _disposed;

    private long _linesWritten;
    private long _linesLost;
    // True from a failed write until the next successful one, so a full disk is logged once, not once per batch.
    private bool _failing;

    /// <summary>The mode of a new events file unless <c>--events-file-mode</c> says otherwise: the owner's alone.</summary>
    public const UnixFileMode DefaultMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Opens (creating it and its directory if missing) <paramref name="path"/> for appending, starts the background
    /// writer and attaches to <paramref name="stream"/>. Throws if the file cannot be opened, so a bad
    /// <c>--events-file</c> fails at startup rather than silently losing events.
    /// </summary>
    /// <param name="mode">
    /// A new file gets exactly this mode. An existing one that allows more loses the extra bits (logged); one that
    /// allows less keeps its mode, since widening a file the operator narrowed is not this option's job.
    /// </param>
    public EventsFileSink(string path, EventStream stream, ILogger<EventsFileSink> logger, UnixFileMode mode = DefaultMode)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(logger);
        _stream = stream;
        _logger = logger;
        FilePath = System.IO.Path.GetFullPath(path);

        string? directory = System.IO.Path.GetDirectoryName(FilePath);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        bool existed = File.Exists(FilePath);
        _file = new FileStream(FilePath, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            // Off: when FileStream's own buffer fills it may write out part of a line, and whole-line writes are the
            // point of this class (it batches whole lines itself).
            BufferSize = 0,
            // Given at creation, so a new file is never readable beyond the mode, not even for a moment.
            UnixCreateMode = mode,
        });
        try
        {
            SetMode(existed, mode);
        }
        catch
        {
            _file.Dispose();
            throw;
        }

        _queue = Channel.CreateBounded<EventEnvelope>(new BoundedChannelOptions(QueueCapacity)
        {
            // Wait mode makes TryWrite return false when full (the drop modes would report success): that false is
            // what lets the stream count the loss. Nobody ever calls the waiting WriteAsync.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            // The publisher must not run the writer's continuation inline.
            AllowSynchronousContinuations = false,
        });

        _writer = Task.Run(WriteLoopAsync);
        stream.AddSink(this);
    }

    /// <summary>
    /// The file's events carry Chromium's DevTools URL, and with it the port of a DevTools that asks for no token,
    /// so an existing file readable by more than the option allows is brought down to it.
    /// </summary>
    private void SetMode(bool existed, UnixFileMode mode)
    {
        var handle = _file.SafeFileHandle;
        UnixFileMode current = File.GetUnixFileMode(handle);
        if (!existed)
        {
            // The umask may have taken bits the operator asked for explicitly; the option names the mode, as
            // mkdir -m does.
            if (current != mode)
            {
                File.SetUnixFileMode(handle, mode);
            }
            return;
        }
        if ((current & ~mode) == 0)
        {
            return;
        }
        UnixFileMode tightened = current & mode;
        try
        {
            File.SetUnixFileMode(handle, tightened);
            LogModeTightened(_logger, FilePath, Octal(current), Octal(tightened));
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // Someone else's file the gateway may append to: its owner decides who reads it.
            LogModeNotTightened(_logger, FilePath, Octal(current), Octal(tightened), e.Message);
        }
    }

    private static string Octal(UnixFileMode mode) =>
        Convert.ToString((int)mode, 8).PadLeft(4, '0');

    /// <summary>The absolute path of the events file.</summary>
    public string FilePath { get; }

    /// <summary>Lines successfully written to the file.</summary>
    public long LinesWritten => Interlocked.Read(ref _linesWritten);

    /// <summary>Lines the file could not take (write errors); also counted in the stream's dropped events.</summary>
    public long LinesLost => Interlocked.Read(ref _linesLost);

    bool IEventSink.TryEnqueue(EventEnvelope envelope) => _queue.Writer.TryWrite(envelope);

    /// <summary>
    /// Detaches from the stream, writes everything still queued, flushes and closes the file. When this returns,
    /// every event published before the call is in the file (unless the disk refused it).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // RemoveSink returns only once no publish is still inside TryEnqueue, so completing the queue after it
            // cannot race with an event being added.
            _stream.RemoveSink(this);
            _queue.Writer.TryComplete();
        }
        await _writer.ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        ChannelReader<EventEnvelope> reader = _queue.Reader;
        byte[] buffer = new byte[WriteBufferBytes];
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                int length = 0;
                int lines = 0;
                while (reader.TryRead(out EventEnvelope? envelope))
                {
                    ReadOnlySpan<byte> json = envelope.Utf8Json.Span;
                    int lineLength = json.Length + 1;
                    if (length + lineLength > buffer.Length)
                    {
                        WriteLines(buffer, length, lines);
                        length = 0;
                        lines = 0;
                    }
                    if (lineLength > buffer.Length)
                    {
                        WriteOversizedLine(json);
                        continue;
                    }
                    json.CopyTo(buffer.AsSpan(length));
                    buffer[length + json.Length] = (byte)'\n';
                    length += lineLength;
                    lines++;
                }
                WriteLines(buffer, length, lines);
            }
        }
        catch (Exception ex)
        {
            // Not expected (WriteLines handles I/O errors); here only so a bug cannot fault the task DisposeAsync
            // awaits during shutdown.
            LogWriterFailed(_logger, FilePath, ex);
        }
    }

    private void WriteOversizedLine(ReadOnlySpan<byte> json)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(json.Length + 1);
        try
        {
            json.CopyTo(rented);
            rented[json.Length] = (byte)'\n';
            WriteLines(rented, json.Length + 1, 1);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Writes whole lines in one call and flushes; a failure is counted, logged once, and survived.</summary>
    private void WriteLines(byte[] buffer, int length, int lines)
    {
        if (length == 0)
        {
            return;
        }
        long lineBoundary = _file.CanSeek ? _file.Position : -1;
        try
        {
            _file.Write(buffer, 0, length);
            _file.Flush();
            Interlocked.Add(ref _linesWritten, lines);
            if (_failing)
            {
                _failing = false;
                LogWritesResumed(_logger, FilePath);
            }
        }
        catch (Exception ex)
        {
            Interlocked.Add(ref _linesLost, lines);
            _stream.CountDropped(lines);
            if (!_failing)
            {
                _failing = true;
                LogWriteFailed(_logger, FilePath, ex);
            }
            // A write that failed part-way (disk full) may have left the start of a line behind; cut the file back
            // to the last whole line so later lines do not get glued onto a fragment.
            if (lineBoundary >= 0)
            {
                try
                {
                    _file.SetLength(lineBoundary);
                }
                catch (Exception)
                {
                    // Best effort: the original failure is already logged.
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The events file {Path} had mode {Old}, more open than --events-file-mode allows; it now has mode {New}")]
    private static partial void LogModeTightened(ILogger logger, string path, string old, string @new);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The events file {Path} has mode {Old}, more open than --events-file-mode allows, and could not be changed to {New}: {Reason}")]
    private static partial void LogModeNotTightened(ILogger logger, string path, string old, string @new, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Cannot write telemetry events to {Path}; events are dropped until writing succeeds again")]
    private static partial void LogWriteFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Writing telemetry events to {Path} again")]
    private static partial void LogWritesResumed(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "The telemetry events file writer for {Path} stopped")]
    private static partial void LogWriterFailed(ILogger logger, string path, Exception exception);
}
