using System.Globalization;
using System.Runtime.InteropServices;
using FakeChromium;

// A stand-in for the Chromium executable: prints the DevTools line on stderr and serves DevTools.
if (int.TryParse(Environment.GetEnvironmentVariable("FAKE_CHROMIUM_EXIT_CODE"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var exitCode))
{
    return exitCode;
}

var port = 0;
foreach (var arg in args)
{
    const string prefix = "--remote-debugging-port=";
    if (arg.StartsWith(prefix, StringComparison.Ordinal)
        && int.TryParse(arg.AsSpan(prefix.Length), NumberStyles.Integer, CultureInfo.InvariantCulture, out var p))
    {
        port = p;
    }
}

var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.TrySetResult();
}
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

// The gateway's tests read what reached the browser from this file.
await using var server = await FakeDevToolsServer.StartAsync(port, Environment.GetEnvironmentVariable("FAKE_CHROMIUM_REQUEST_LOG"));

if (int.TryParse(Environment.GetEnvironmentVariable("FAKE_CHROMIUM_STARTUP_DELAY_MS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var delay) && delay > 0)
{
    await Task.Delay(delay);
}

Console.Error.WriteLine($"DevTools listening on {server.BrowserUrl}");
Console.Error.Flush();

await stop.Task;
return 0;
