using CdpGateway.Browser;
using CdpGateway.Hosting;
using CdpGateway.Tests.Telemetry;
using Microsoft.Extensions.Logging;
using static CdpGateway.Tests.Security.PermissionWalk;

namespace CdpGateway.Tests.Security;

public sealed class PrivateDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cdpgw-private-").FullName;
    private readonly RecordingLogger<PrivateDirectoryTests> _logger = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Made(string relative, string mode, bool directory = true)
    {
        var path = Path.Combine(_dir, relative);
        if (directory)
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            File.WriteAllText(path, "x");
        }
        File.SetUnixFileMode(path, Mode(mode));
        return path;
    }

    private GatewayOptions Options(string dataDir) => new() { DataDir = dataDir };

    [Fact]
    public void AMissingDirectoryIsCreatedForItsOwnerAlone()
    {
        var path = Path.Combine(_dir, "parent", "data");

        Assert.False(PrivateDirectory.Ensure(path));

        Assert.Equal("0700", OctalOf(path));
    }

    [Fact]
    public void AnOpenDirectoryIsTightenedOnce()
    {
        var path = Made("data", "0755");

        Assert.True(PrivateDirectory.Ensure(path));
        Assert.Equal("0700", OctalOf(path));
        Assert.False(PrivateDirectory.Ensure(path));
    }

    [Fact]
    public void TighteningContentsTakesGroupAndOtherBitsButLeavesSymbolicLinksAndTheirTargetsAlone()
    {
        var outside = Made("outside", "0755");
        var outsideFile = Made("outside/file", "0644", directory: false);
        var tree = Made("tree", "0755");
        Made("tree/sub", "0775");
        Made("tree/sub/file", "0664", directory: false);
        Made("tree/owner-only", "0600", directory: false);
        File.CreateSymbolicLink(Path.Combine(tree, "link-to-file"), outsideFile);
        Directory.CreateSymbolicLink(Path.Combine(tree, "link-to-dir"), outside);

        Assert.Equal(2, PrivateDirectory.TightenContents(tree));

        Assert.Equal("0700", OctalOf(Path.Combine(tree, "sub")));
        Assert.Equal("0600", OctalOf(Path.Combine(tree, "sub", "file")));
        Assert.Equal("0600", OctalOf(Path.Combine(tree, "owner-only")));
        Assert.Equal("0755", OctalOf(outside));
        Assert.Equal("0644", OctalOf(outsideFile));
    }

    [Fact]
    public void ANewDataDirAndChromiumsDirectoriesInItArePrivate()
    {
        var dataDir = Path.Combine(_dir, "data");

        DataDirectory.Prepare(Options(dataDir), _logger);

        Assert.Equal("0700", OctalOf(dataDir));
        Assert.Equal("0700", OctalOf(Path.Combine(dataDir, "profile")));
        Assert.Equal("0700", OctalOf(Path.Combine(dataDir, "chromium-config")));
    }

    [Fact]
    public void AnOlderInstallsDataDirIsTightenedWithWhatIsInIt()
    {
        var dataDir = Made("data", "0755");
        Made("data/profile", "0755");
        Made("data/profile/Default", "0755");
        Made("data/profile/DevToolsActivePort", "0644", directory: false);
        Made("data/chromium-config", "0755");
        Made("data/flags.json", "0644", directory: false);

        DataDirectory.Prepare(Options(dataDir), _logger);

        AssertNothingOpen(dataDir);
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Information && e.Message.Contains(Path.Combine(dataDir, "profile"), StringComparison.Ordinal));
    }

    [Fact]
    public void ADataDirSharedWithOtherFilesKeepsItsModeButChromiumsDirectoriesInItArePrivate()
    {
        var dataDir = Made("shared", "0755");
        Made("shared/someone-elses", "0644", directory: false);
        Made("shared/profile", "0755");

        DataDirectory.Prepare(Options(dataDir), _logger);

        Assert.Equal("0755", OctalOf(dataDir));
        Assert.Equal("0700", OctalOf(Path.Combine(dataDir, "profile")));
        Assert.Equal("0700", OctalOf(Path.Combine(dataDir, "chromium-config")));
        Assert.Equal("0644", OctalOf(Path.Combine(dataDir, "someone-elses")));
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains(dataDir, StringComparison.Ordinal));
    }

    [Fact]
    public void AnEventsFileInTheDataDirDoesNotMakeItShared()
    {
        var dataDir = Made("data", "0755");
        var events = Made("data/events.jsonl", "0600", directory: false);

        DataDirectory.Prepare(new GatewayOptions { DataDir = dataDir, EventsFile = events }, _logger);

        Assert.Equal("0700", OctalOf(dataDir));
    }
}
