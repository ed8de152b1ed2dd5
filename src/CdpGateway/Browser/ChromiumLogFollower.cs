using System.Text;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// Attach mode: follows a Chromium log file in-process (no tail child) for the DevTools line. The file
/// may not exist yet, may be truncated (copytruncate) or rotated (renamed and recreated); each case
/// makes the follower read the current file from its start. Partial lines wait for their newline.
/// </summary>
public sealed class ChromiumLogFollower : IAsyncDisposable
{
    /// <summary>A line longer than this is skipped up to its newline (the DevTools line is short).</summary>
    internal const int MaxLineBytes = 1024 * 1024;

    private readonly string _path;
    private readonly DevToolsUrlTracker _tracker;
    private readonly TimeProvider _time;
    private readonly ILogger<ChromiumLogFollower> _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _readBuffer = new byte[64 * 1024];
    private readonly MemoryStream _line = new();
    private bool _discardingLongLine;
    private FileStream? _file;
    private FileIdentity? _identity;
    private long _position;
    private bool _reportedMissing;
    private Task? _loop;
    private int _disposed;

    public ChromiumLogFollower(string path, DevToolsUrlTracker tracker, TimeProvider time, ILogger<ChromiumLogFollower> logger)
    {
        _path = Path.GetFullPath(path);
        _tracker = tracker;
        _time = time;
        _logger = logger;
    }

    /// <summary>How often the file is checked for new data, truncation and rotation.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Starts following in the background; returns at once.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_loop is not null)
        {
            throw new InvalidOperationException("The log follower is already started.");
        }
        _logger.LogInformation("Following Chromium log {Path} for the DevTools URL", _path);
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        CloseFile();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                PollOnce();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _logger.LogWarning(e, "Reading {Path} failed; reopening it", _path);
                CloseFile();
            }
            catch (Exception e)
            {
                // Never let the follower die silently: the gateway would stop learning about restarts.
                _logger.LogError(e, "Unexpected error following {Path}", _path);
                CloseFile();
            }

            try
            {
                await Task.Delay(PollInterval, _time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One round: open if needed, read what was appended, notice truncation and rotation.</summary>
    internal void PollOnce()
    {
        if (_file is null && !TryOpen())
        {
            return;
        }

        if (_file!.Length < _position)
        {
            _logger.LogInformation("{Path} was truncated; reading it from the start", _path);
            Rewind();
        }
        ReadAvailable();

        // Rotation: the path now names another file (or none yet). Finish the old file, then switch.
        var current = Posix.Identity(_path);
        if (current is null && File.Exists(_path))
        {
            return; // identity unknown on this platform: rely on truncation detection
        }
        if (current != _identity)
        {
            if (current is null)
            {
                return; // renamed away and not yet recreated: keep the old file until a new one shows up
            }
            ReadAvailable();
            FlushPartialLine();
            _logger.LogInformation("{Path} was rotated; reading the new file from the start", _path);
            CloseFile();
            if (TryOpen())
            {
                ReadAvailable();
            }
        }
    }

    private bool TryOpen()
    {
        try
        {
            _file = new FileStream(_path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0,
            });
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            if (!_reportedMissing)
            {
                _reportedMissing = true;
                _logger.LogInformation("{Path} does not exist yet; waiting for it", _path);
            }
            return false;
        }
        _reportedMissing = false;
        _identity = Posix.Identity(_file.SafeFileHandle);
        _logger.LogDebug("Opened {Path}", _path);
        Rewind();
        return true;
    }

    private void Rewind()
    {
        _file!.Position = 0;
        _position = 0;
        _line.SetLength(0);
        _discardingLongLine = false;
    }

    private void CloseFile()
    {
        _file?.Dispose();
        _file = null;
        _identity = null;
        _line.SetLength(0);
        _discardingLongLine = false;
    }

    /// <summary>Reads to the current end of the file; only the last DevTools URL of the batch is announced.</summary>
    private void ReadAvailable()
    {
        string? latest = null;
        int read;
        while ((read = _file!.Read(_readBuffer, 0, _readBuffer.Length)) > 0)
        {
            _position += read;
            var chunk = _readBuffer.AsSpan(0, read);
            while (chunk.Length > 0)
            {
                var newline = chunk.IndexOf((byte)'\n');
                var part = newline < 0 ? chunk : chunk[..newline];
                if (!_discardingLongLine)
                {
                    if (_line.Length + part.Length > MaxLineBytes)
                    {
                        _logger.LogDebug("Skipping a line over {Max} bytes in {Path}", MaxLineBytes, _path);
                        _discardingLongLine = true;
                        _line.SetLength(0);
                    }
                    else
                    {
                        _line.Write(part);
                    }
                }
                if (newline < 0)
                {
                    break;
                }
                if (!_discardingLongLine && TakeLine() is { } url)
                {
                    latest = url;
                }
                _discardingLongLine = false;
                _line.SetLength(0);
                chunk = chunk[(newline + 1)..];
            }
        }
        Announce(latest);
    }

    /// <summary>At rotation, a last line without its newline will never be completed: take it as it is.</summary>
    private void FlushPartialLine()
    {
        if (!_discardingLongLine && _line.Length > 0)
        {
            Announce(TakeLine());
        }
        _line.SetLength(0);
    }

    private string? TakeLine()
    {
        var text = Encoding.UTF8.GetString(_line.GetBuffer(), 0, (int)_line.Length);
        return DevToolsLineParser.TryParse(text, out var url) ? url : null;
    }

    private void Announce(string? url)
    {
        if (url is not null && _tracker.Set(url))
        {
            _logger.LogInformation("DevTools URL from {Path}: {Url}", _path, url);
        }
    }
}
