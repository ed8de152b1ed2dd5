using System.Buffers;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Where captured commands live while queued. A command's buffer is rented on a relay thread and returned on the
/// worker's thread; the shared pool keeps its arrays per thread first, so that traffic pattern empties the relay
/// threads' caches and overfills the worker's, and most rents end up allocating. Small captures (nearly every
/// command) use a pool of their own that does not care which thread returns; large ones stay with the shared pool.
/// </summary>
internal static class CommandBufferPool
{
    /// <summary>The largest capture served by the thread-agnostic pool.</summary>
    public const int SmallBytes = 16 * 1024;

    // Bounded retention: at most this many arrays per size (about 4 MiB if every size filled up).
    private const int ArraysPerSize = 128;

    private static readonly ArrayPool<byte> Small = ArrayPool<byte>.Create(SmallBytes, ArraysPerSize);

    public static byte[] Rent(int minimumLength) =>
        minimumLength <= SmallBytes ? Small.Rent(minimumLength) : ArrayPool<byte>.Shared.Rent(minimumLength);

    public static void Return(byte[] buffer)
    {
        if (buffer.Length <= SmallBytes)
        {
            Small.Return(buffer);
        }
        else
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
