using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CdpGateway.Telemetry;

public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Registers the telemetry core as singletons: <see cref="TelemetryConfig"/>, <see cref="EventStream"/> and the
    /// same instance as <see cref="IEventPublisher"/>, plus <see cref="TimeProvider.System"/> unless a TimeProvider
    /// is already registered (tests register a fake one). The
    /// envelopes name the registered <see cref="GatewayInstance"/>, if any. The events file sink is not registered here: it is
    /// optional and its disposal has to be ordered after the proxy has published its last events.
    /// </summary>
    public static IServiceCollection AddTelemetry(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<TelemetryConfig>();
        services.TryAddSingleton(sp => new EventStream(
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<TelemetryConfig>(), source: sp.GetService<GatewayInstance>()));
        services.TryAddSingleton<IEventPublisher>(sp => sp.GetRequiredService<EventStream>());
        return services;
    }
}
