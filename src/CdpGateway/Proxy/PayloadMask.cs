using System.Numerics;
using System.Runtime.InteropServices;

namespace CdpGateway.Proxy;

/// <summary>
/// RFC 6455 masking (an XOR with the frame's 4-byte key). The relay forwards client frames still
/// masked; it unmasks only what it must read itself: a close frame's payload, and payload that an
/// observer (command telemetry, message logging) is shown after the forward.
/// </summary>
public static class PayloadMask
{
    /// <summary>
    /// XORs <paramref name="data"/> in place with <paramref name="key"/> (memory order, as in the
    /// header), <paramref name="frameOffset"/> being the position of data[0] within its frame's payload.
    /// </summary>
    public static void Apply(Span<byte> data, int key, long frameOffset)
    {
        var shift = (int)(frameOffset & 3) * 8;
        var rolled = BitConverter.IsLittleEndian
            ? (int)BitOperations.RotateRight((uint)key, shift)
            : (int)BitOperations.RotateLeft((uint)key, shift);
        var done = 0;
        if (Vector.IsHardwareAccelerated && data.Length >= Vector<byte>.Count)
        {
            var pattern = Vector.AsVectorByte(new Vector<int>(rolled));
            var vectors = MemoryMarshal.Cast<byte, Vector<byte>>(data);
            for (var i = 0; i < vectors.Length; i++)
            {
                vectors[i] ^= pattern;
            }
            done = vectors.Length * Vector<byte>.Count;
        }
        var words = MemoryMarshal.Cast<byte, int>(data[done..]);
        for (var i = 0; i < words.Length; i++)
        {
            words[i] ^= rolled;
        }
        done += words.Length * 4;
        // The tail starts on a whole number of words from data[0], so the rolled key lines up again.
        Span<byte> keyBytes = stackalloc byte[4];
        MemoryMarshal.Write(keyBytes, in rolled);
        for (var i = done; i < data.Length; i++)
        {
            data[i] ^= keyBytes[(i - done) & 3];
        }
    }
}
