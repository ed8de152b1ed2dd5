namespace CdpGateway.Telemetry.Commands;

/// <summary>The <c>cdp_command</c> event: one per reported browser-control command that was forwarded.</summary>
public static class CdpCommandEvents
{
    public const string Type = "cdp_command";

    public const string Category = EventCategory.Control;

    /// <summary>
    /// Publishes one command's event. <paramref name="forwardedAt"/> is when its write to Chromium completed, so
    /// time spent queued for classification does not move the event.
    /// </summary>
    public static long PublishCommand(this IEventPublisher publisher, CdpCommandData data, DateTimeOffset forwardedAt) =>
        publisher.Publish(Type, Category, data, TelemetryJsonContext.Default.CdpCommandData, forwardedAt);
}
