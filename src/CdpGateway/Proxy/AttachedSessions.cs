namespace CdpGateway.Proxy;

/// <summary>
/// The flattened sessions Chromium attached on one client connection, each with its target: filled from the
/// <c>Target.attachedToTarget</c> and <c>Target.detachedFromTarget</c> events Chromium sends that client
/// (<see cref="TargetAttachTap"/>), read by the live view to learn which page a command's <c>sessionId</c> drives.
/// Bounded, so neither a hostile peer nor a client that never detaches can grow it without limit; it goes away with
/// its connection.
/// </summary>
/// <remarks>Written and read only when a session begins or ends or an input mark is drawn, never per relayed message.</remarks>
public sealed class AttachedSessions
{
    /// <summary>Sessions held at most; a session attached beyond that is not mapped (its input is not drawn).</summary>
    public const int Capacity = 1024;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, string> _targets = new(StringComparer.Ordinal);
    private long _refused;

    /// <summary>Sessions mapped now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _targets.Count;
            }
        }
    }

    /// <summary>Attachments not mapped because the map was full.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Maps <paramref name="sessionId"/> to <paramref name="targetId"/>; false when the map is full.</summary>
    public bool Attach(string sessionId, string targetId)
    {
        lock (_lock)
        {
            if (_targets.Count >= Capacity && !_targets.ContainsKey(sessionId))
            {
                Interlocked.Increment(ref _refused);
                return false;
            }
            _targets[sessionId] = targetId;
            return true;
        }
    }

    public void Detach(string sessionId)
    {
        lock (_lock)
        {
            _targets.Remove(sessionId);
        }
    }

    /// <summary>The target <paramref name="sessionId"/> is attached to; null for a session Chromium did not announce.</summary>
    public string? TargetOf(string sessionId)
    {
        lock (_lock)
        {
            return _targets.GetValueOrDefault(sessionId);
        }
    }
}
