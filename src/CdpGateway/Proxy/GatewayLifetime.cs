using Microsoft.Extensions.Hosting;

namespace CdpGateway.Proxy;

/// <summary>The gateway's "stopping" signal as both a token and a task connections can race against.</summary>
public sealed class GatewayLifetime
{
    private readonly TaskCompletionSource _stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public GatewayLifetime(IHostApplicationLifetime lifetime)
    {
        Stopping = lifetime.ApplicationStopping;
        Stopping.Register(() => _stopping.TrySetResult());
    }

    public CancellationToken Stopping { get; }

    public Task StoppingTask => _stopping.Task;
}
