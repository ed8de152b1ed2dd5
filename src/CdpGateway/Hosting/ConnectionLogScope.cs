using System.Collections;

namespace CdpGateway.Hosting;

/// <summary>
/// The logging scope of one client connection: everything logged while it runs (the dial, its end, a fault) carries
/// its <c>connection_id</c> in the JSON log. One per connection, never one per message.
/// </summary>
public sealed class ConnectionLogScope(string connectionId) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public string ConnectionId { get; } = connectionId;

    public int Count => 1;

    public KeyValuePair<string, object?> this[int index] =>
        index == 0 ? new("connection_id", ConnectionId) : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return this[0];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "connection_id:" + ConnectionId;
}
