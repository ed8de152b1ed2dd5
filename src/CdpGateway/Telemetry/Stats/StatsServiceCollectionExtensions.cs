using Microsoft.Extensions.DependencyInjection;

namespace CdpGateway.Telemetry.Stats;

public static class StatsServiceCollectionExtensions
{
    /// <summary>The stats sampler, started and stopped with the host; needs the metrics (<c>AddGatewayMetrics</c>) and the browser's owner.</summary>
    public static IServiceCollection AddGatewayStats(this IServiceCollection services)
    {
        services.AddSingleton<StatsSources>();
        services.AddSingleton<StatsSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<StatsSampler>());
        return services;
    }
}
