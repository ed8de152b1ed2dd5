using System.Runtime.InteropServices;
using CdpGateway.Proxy.Epoll;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CdpGateway.Tests.Proxy.Epoll;

/// <summary>The epoll relay as a gateway's service: where it runs, whose it is, and that it stops with its gateway.</summary>
public sealed class EpollRelayServiceTests
{
    [Theory]
    [InlineData(true, Architecture.X64, null, null)]
    [InlineData(true, Architecture.Arm64, null, null)]
    [InlineData(true, Architecture.X64, "1", null)]
    [InlineData(true, Architecture.X64, "0", "CDPGW_EPOLL_RELAY=0 switches the epoll relay off")]
    [InlineData(true, Architecture.Arm64, "0", "CDPGW_EPOLL_RELAY=0 switches the epoll relay off")]
    [InlineData(true, Architecture.RiscV64, null, "the epoll relay does not know struct epoll_event on RiscV64 (it runs on x86-64 and arm64)")]
    [InlineData(true, Architecture.X86, null, "the epoll relay does not know struct epoll_event on X86 (it runs on x86-64 and arm64)")]
    [InlineData(false, Architecture.X64, null, "the epoll relay runs on Linux only")]
    [InlineData(false, Architecture.Arm64, "0", "the epoll relay runs on Linux only")]
    public void TheRelayRunsOnlyOnLinuxWithAKnownLayoutAndNotSwitchedOff(bool isLinux, Architecture architecture, string? switchValue, string? reason) =>
        Assert.Equal(reason, EpollRelay.OffReason(isLinux, architecture, switchValue));

    [Fact]
    public void AnEngineThatIsOffHasNoLoopsAndTakesNoConnection()
    {
        using var engine = EpollRelay.Create("switched off for the test", NullLogger<EpollRelay>.Instance);
        Assert.False(engine.IsOn);
        Assert.Empty(engine.Loops);
        Assert.Throws<InvalidOperationException>(() => engine.NextLoop());
    }

    [EpollFact]
    public void DisposingAnEngineEndsItsLoopThreads()
    {
        var engine = EpollRelay.Create(null, NullLogger<EpollRelay>.Instance);
        var loops = engine.Loops.ToList();
        Assert.NotEmpty(loops);
        Assert.All(loops, loop => Assert.True(loop.IsRunning));
        engine.Dispose();
        Assert.All(loops, loop => Assert.False(loop.IsRunning));
    }

    [Fact]
    public async Task AGatewayHasOneEngineOfItsOwnWhichStopsWithIt()
    {
        var first = await TestGateway.StartAsync(withBrowser: false);
        EpollRelay engine;
        List<EpollLoop> loops;
        await using (first)
        {
            engine = first.App.Services.GetRequiredService<EpollRelay>();
            Assert.Same(engine, first.App.Services.GetRequiredService<EpollRelay>());
            Assert.Equal(EpollRelay.OffReasonHere is null, engine.IsOn);
            await using var second = await TestGateway.StartAsync(withBrowser: false);
            Assert.NotSame(engine, second.App.Services.GetRequiredService<EpollRelay>());
            loops = engine.Loops.ToList();
            Assert.All(loops, loop => Assert.True(loop.IsRunning));
        }
        Assert.All(loops, loop => Assert.False(loop.IsRunning));
    }
}

/// <summary>What the loops report when an event handler throws.</summary>
public sealed class EpollLoopFaultTests
{
    private sealed class RecordingLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<(Microsoft.Extensions.Logging.LogLevel Level, string Message, Exception? Exception)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((logLevel, formatter(state, exception), exception));
            }
        }
    }

    [EpollFact]
    public void AHandlerFaultGoesToTheEnginesLoggerAtErrorWithTheException()
    {
        var logger = new RecordingLogger();
        using var engine = new EpollRelay(1, logger);
        var fault = new InvalidOperationException("a handler broke");
        engine.Loops[0].ReportFault(42, fault);
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, entry.Level);
        Assert.Same(fault, entry.Exception);
        Assert.Contains("socket 42", entry.Message);
        Assert.Contains("cdp-relay-0", entry.Message);
    }
}
