using CdpGateway.Hosting;
using CdpGateway.Tests.Browser;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Api;

/// <summary>
/// Real in-process gateways, each supervising tests/FakeChromium on ephemeral ports, with an HTTP client for their API;
/// disposing stops every gateway started here and the fakes.
/// </summary>
public sealed class SupervisedGateways : IAsyncDisposable
{
    private readonly List<GatewayApp> _gateways = [];

    public FakeBrowsers Fakes { get; } = new();

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    /// <param name="executable">The browser to launch: a FakeChromium script (the plain one unless given).</param>
    public async Task<GatewayApp> StartAsync(Action<GatewayOptions>? configure = null, string? executable = null, bool waitReady = true)
    {
        var options = Fakes.Options(executable ?? Fakes.FakeChromium());
        options.CdpPort = 0;
        options.ApiPort = 0;
        configure?.Invoke(options);
        var gateway = GatewayApp.Create(options, logging: _ => { });
        _gateways.Add(gateway);
        await gateway.StartAsync();
        if (waitReady)
        {
            await Eventually.TrueAsync(() => gateway.Chromium.IsReady, "ready");
        }
        return gateway;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var gateway in _gateways)
        {
            await gateway.DisposeAsync();
        }
        Http.Dispose();
        await Fakes.DisposeAsync();
    }
}
