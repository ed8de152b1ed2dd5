using System.Collections.Frozen;

namespace CdpGateway.Telemetry;

/// <summary>
/// Which telemetry is produced. Read on every publish, so reads are lock-free (plain volatile fields); writes are
/// rare (operator requests) and simply replace a field.
/// </summary>
public sealed class TelemetryConfig
{
    // One field per category rather than a dictionary: IsEnabled runs for every event and a switch over three
    // interned constants is cheaper than hashing the category string.
    private volatile bool _connectionEnabled = true;
    private volatile bool _controlEnabled = true;
    private volatile bool _systemEnabled = true;
    private volatile FrozenSet<string> _excludedCdpMethods = FrozenSet<string>.Empty;

    /// <summary>
    /// Whether events of <paramref name="category"/> are published. An unknown category is never enabled: only the
    /// categories of <see cref="EventCategory.All"/> can be switched, so anything else could not be turned off.
    /// </summary>
    public bool IsEnabled(string category) => category switch
    {
        EventCategory.Connection => _connectionEnabled,
        EventCategory.Control => _controlEnabled,
        EventCategory.System => _systemEnabled,
        _ => false,
    };

    /// <summary>Switches a category on or off. Throws <see cref="ArgumentException"/> for an unknown category.</summary>
    public void SetEnabled(string category, bool enabled)
    {
        switch (category)
        {
            case EventCategory.Connection: _connectionEnabled = enabled; break;
            case EventCategory.Control: _controlEnabled = enabled; break;
            case EventCategory.System: _systemEnabled = enabled; break;
            default: throw new ArgumentException($"unknown telemetry category '{category}'", nameof(category));
        }
    }

    /// <summary>CDP methods whose <c>cdp_command</c> events are not reported (counted apart as excluded).</summary>
    public IReadOnlyCollection<string> ExcludedCdpMethods => _excludedCdpMethods;

    public bool IsCdpMethodExcluded(string method) => _excludedCdpMethods.Contains(method);

    /// <summary>Replaces the excluded method set as a whole, so readers never see a half-applied change.</summary>
    public void SetExcludedCdpMethods(IEnumerable<string> methods) =>
        _excludedCdpMethods = methods.ToFrozenSet(StringComparer.Ordinal);
}
