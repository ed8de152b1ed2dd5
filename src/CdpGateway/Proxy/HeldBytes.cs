namespace CdpGateway.Proxy;

/// <summary>
/// Bytes taken from a socket before their reader was there (the rest of a handshake read, what a watch read ahead),
/// served ahead of the socket's own. Empty holds no array.
/// </summary>
internal struct HeldBytes(ReadOnlySpan<byte> bytes)
{
    private byte[]? _bytes = bytes.IsEmpty ? null : bytes.ToArray();
    private int _offset;

    public readonly bool IsEmpty => _bytes is null;

    /// <summary>Moves as many as fit into <paramref name="buffer"/>; how many.</summary>
    public int MoveTo(Span<byte> buffer)
    {
        if (_bytes is not { } bytes)
        {
            return 0;
        }
        int count = Math.Min(buffer.Length, bytes.Length - _offset);
        bytes.AsSpan(_offset, count).CopyTo(buffer);
        _offset += count;
        if (_offset == bytes.Length)
        {
            this = default;
        }
        return count;
    }

    /// <summary>Takes all that is left (the array itself when none of it was moved out yet: nothing else holds it).</summary>
    public byte[] Take()
    {
        var rest = _bytes is { } bytes ? (_offset == 0 ? bytes : bytes[_offset..]) : [];
        this = default;
        return rest;
    }
}
