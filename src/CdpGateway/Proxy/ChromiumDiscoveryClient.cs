namespace CdpGateway.Proxy;

/// <summary>
/// The HTTP client that asks Chromium the discovery requests (<see cref="DiscoveryEndpoints"/>): one per gateway, a
/// singleton of its services, so its pooled connections to Chromium close when the gateway is disposed.
/// </summary>
public sealed class ChromiumDiscoveryClient : IDisposable
{
    public HttpClient Http { get; } = new(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(5) })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    public void Dispose() => Http.Dispose();
}
