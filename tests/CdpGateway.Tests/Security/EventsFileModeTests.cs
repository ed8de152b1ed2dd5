using CdpGateway.Telemetry;
using CdpGateway.Tests.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using static CdpGateway.Tests.Security.PermissionWalk;

namespace CdpGateway.Tests.Security;

public sealed class EventsFileModeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cdpgw-events-mode-").FullName;
    private readonly RecordingLogger<EventsFileSink> _logger = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string EventsFile => Path.Combine(_dir, "events.jsonl");

    private async Task OpenAndCloseAsync(UnixFileMode? mode = null)
    {
        var stream = new EventStream(new FakeTimeProvider(), new TelemetryConfig());
        var sink = mode is { } m ? new EventsFileSink(EventsFile, stream, _logger, m) : new EventsFileSink(EventsFile, stream, _logger);
        await sink.DisposeAsync();
    }

    [Fact]
    public async Task ANewEventsFileIsTheOwnersAloneByDefault()
    {
        await OpenAndCloseAsync();

        Assert.Equal("0600", OctalOf(EventsFile));
    }

    [Fact]
    public async Task ANewEventsFileGetsExactlyTheModeAskedFor()
    {
        await OpenAndCloseAsync(Mode("0640"));

        Assert.Equal("0640", OctalOf(EventsFile));
    }

    [Fact]
    public async Task AnExistingEventsFileOpenBeyondTheModeIsTightenedAndThatIsLogged()
    {
        File.WriteAllText(EventsFile, "");
        File.SetUnixFileMode(EventsFile, Mode("0666"));

        await OpenAndCloseAsync(Mode("0640"));

        Assert.Equal("0640", OctalOf(EventsFile));
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("0666", StringComparison.Ordinal)
            && e.Message.Contains("0640", StringComparison.Ordinal) && e.Message.Contains(EventsFile, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnExistingEventsFileNarrowerThanTheModeKeepsItsMode()
    {
        File.WriteAllText(EventsFile, "");
        File.SetUnixFileMode(EventsFile, Mode("0600"));

        await OpenAndCloseAsync(Mode("0640"));

        Assert.Equal("0600", OctalOf(EventsFile));
        Assert.DoesNotContain(_logger.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task TheEventsFilesDirectoryIsLeftAsTheOperatorMadeIt()
    {
        File.SetUnixFileMode(_dir, Mode("0755"));

        await OpenAndCloseAsync();

        Assert.Equal("0755", OctalOf(_dir));
    }
}
