using System.Text.Json.Serialization.Metadata;

namespace CdpGateway.Telemetry;

/// <summary>Where every part of the gateway hands its telemetry events.</summary>
public interface IEventPublisher
{
    /// <summary>
    /// Publishes one event. Never throws and never blocks on a reader. Returns the envelope's seq, or 0
    /// when the event's category is switched off.
    /// </summary>
    /// <param name="timestamp">When it happened; defaults to now.</param>
    long Publish<T>(string type, string category, T data, JsonTypeInfo<T> dataType, DateTimeOffset? timestamp = null);
}
