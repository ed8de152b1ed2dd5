using System.Runtime;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Browser;

/// <summary>Runs alone: it counts the whole test process's pipes, which any test running beside it could open.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DescriptorCountCollection
{
    public const string Name = "DescriptorCount";
}

[Collection(DescriptorCountCollection.Name)]
public sealed class ChromiumPipeTests : IAsyncLifetime
{
    private const int Restarts = 6;

    /// <summary>Room for what the restarts allocate, so that none of them sets off a collection.</summary>
    private const long NoCollectionBytes = 200L * 1024 * 1024;

    private readonly FakeBrowsers _fakes = new();

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xUnit 2 never calls a test class's IAsyncDisposable.
    public async Task DisposeAsync() => await _fakes.DisposeAsync();

    [Fact]
    public async Task RestartingChromium_LeavesNoPipeOfAnEarlierBrowserOrWatchdogOpen()
    {
        var (supervisor, _, _) = _fakes.Supervisor(_fakes.FakeChromium());
        await using (supervisor)
        {
            await supervisor.StartAsync(FakeBrowsers.Timeout());
            await Eventually.TrueAsync(() => supervisor.IsReady, "ready");
            // No collection while the pipes are counted: a finalizer closing a leaked pipe would hide the leak. Entering
            // the region collects once, before the count starts.
            Assert.True(GC.TryStartNoGCRegion(NoCollectionBytes));
            try
            {
                // The running browser and its watchdog hold their pipes now, and so will the last one.
                var before = GatewaySockets.OpenPipes();

                for (var i = 0; i < Restarts; i++)
                {
                    await supervisor.RestartAsync(FakeBrowsers.Timeout());
                }

                // An earlier browser's pipes are let go in the background after its group is gone.
                await Eventually.TrueAsync(() => GatewaySockets.OpenPipes() <= before,
                    $"pipes back to {before}", TimeSpan.FromSeconds(10));
                Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
            }
            finally
            {
                if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
                {
                    GC.EndNoGCRegion();
                }
            }
        }
    }
}
