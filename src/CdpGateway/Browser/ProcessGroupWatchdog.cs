using System.Diagnostics;
using System.Globalization;

namespace CdpGateway.Browser;

/// <summary>
/// Kills a Chromium process group if the gateway dies without stopping it (SIGKILL, OOM killer, crash). A
/// tiny shell that ignores the usual stop signals reads the group id from a pipe, then blocks on that pipe:
/// the kernel closes the gateway's end when the gateway dies however it dies, and the shell then sends
/// SIGKILL to the whole group, renderers and zygotes included. The parent-death signal set at launch
/// covers the browser process alone; this covers its children too. On a normal stop the gateway kills the
/// watchdog itself once the group is gone, so the watchdog never fires on a group id that may be reused.
/// </summary>
internal sealed class ProcessGroupWatchdog : IAsyncDisposable
{
    private const string Script =
        "trap '' INT TERM HUP QUIT; read pgid || exit 0; while read line; do :; done; " +
        "case \"$pgid\" in ''|*[!0-9]*|0|1) exit 0;; esac; kill -KILL -- \"-$pgid\" 2>/dev/null; exit 0";

    private readonly Process _process;
    private int _stoodDown;
    private int _disposed;

    private ProcessGroupWatchdog(Process process)
    {
        _process = process;
    }

    public int Pid => _process.Id;

    /// <summary>Starts a watchdog for group <paramref name="pgid"/>; null if no shell could be started.</summary>
    public static ProcessGroupWatchdog? Start(int pgid, Func<ProcessStartInfo, Process> start)
    {
        var info = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Script);
        info.ArgumentList.Add("cdp-gateway-watchdog");
        Process process;
        try
        {
            process = start(info);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return null;
        }
        process.StandardInput.WriteLine(pgid.ToString(CultureInfo.InvariantCulture));
        process.StandardInput.Flush();
        return new ProcessGroupWatchdog(process);
    }

    /// <summary>Stands the watchdog down without touching the group: SIGKILL, at once. It is reaped by <see cref="DisposeAsync"/>.</summary>
    public void StandDown()
    {
        if (Interlocked.Exchange(ref _stoodDown, 1) != 0)
        {
            return;
        }
        try
        {
            _process.Kill();
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    /// <summary>Stands it down if not yet done and waits (bounded) for it to exit.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        StandDown();
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
        {
            // Not reaped in time, or already gone: nothing more to do for a SIGKILLed shell.
        }
        // Only now: the end of its input is the watchdog's signal to kill the group, and a SIGKILLed shell reads nothing
        // more. Process.Dispose leaves the pipe to the finalizer.
        try
        {
            _process.StandardInput.Dispose();
        }
        catch (IOException)
        {
            // Nothing was left to write: the pipe is closed all the same.
        }
        _process.Dispose();
    }
}
