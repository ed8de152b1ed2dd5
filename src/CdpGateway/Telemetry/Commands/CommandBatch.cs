using System.Buffers;
using System.Buffers.Binary;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Commands of one connection that were forwarded and wait for the worker, packed one after another in one pooled
/// array: a record is the message's length, method and forward timestamp, then its bytes. The relay thread appends to
/// a batch while it is pending; the worker takes the whole batch at once and reads it front to back, so handing
/// commands over costs one lock per batch rather than a lock, a queue slot and a pooled buffer per command.
/// </summary>
internal sealed class CommandBatch
{
    private const int RecordHeaderBytes = 16;
    private const int InitialBytes = 4 * 1024;

    /// <summary>A batch this small is kept for the connection's next commands; a larger one goes back to the pool.</summary>
    public const int ReusableBytes = 8 * 1024;

    private byte[] _bytes = ArrayPool<byte>.Shared.Rent(InitialBytes);
    private int _length;

    public int Count { get; private set; }

    /// <summary>Bytes of the commands themselves (what the queue bound counts).</summary>
    public long CommandBytes { get; private set; }

    public int Capacity => _bytes.Length;

    public void Append(CdpMethod method, long timestamp, ReadOnlySpan<byte> command)
    {
        int needed = _length + RecordHeaderBytes + command.Length;
        if (needed > _bytes.Length)
        {
            byte[] grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _bytes.Length * 2));
            _bytes.AsSpan(0, _length).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = grown;
        }
        Span<byte> record = _bytes.AsSpan(_length);
        BinaryPrimitives.WriteInt32LittleEndian(record, command.Length);
        BinaryPrimitives.WriteInt32LittleEndian(record[4..], (int)method);
        BinaryPrimitives.WriteInt64LittleEndian(record[8..], timestamp);
        command.CopyTo(record[RecordHeaderBytes..]);
        _length = needed;
        Count++;
        CommandBytes += command.Length;
    }

    /// <summary>The records in order.</summary>
    public Reader Read() => new(_bytes, _length);

    public void Clear()
    {
        _length = 0;
        Count = 0;
        CommandBytes = 0;
    }

    /// <summary>Gives the array back to the pool; the batch is not used again.</summary>
    public void Release()
    {
        ArrayPool<byte>.Shared.Return(_bytes);
        _bytes = [];
        Clear();
    }

    /// <summary>Walks a batch's records.</summary>
    public struct Reader(byte[] bytes, int length)
    {
        private int _offset;

        public bool TryNext(out CdpMethod method, out long timestamp, out ReadOnlyMemory<byte> command)
        {
            if (_offset >= length)
            {
                method = default;
                timestamp = 0;
                command = default;
                return false;
            }
            ReadOnlySpan<byte> record = bytes.AsSpan(_offset);
            int commandLength = BinaryPrimitives.ReadInt32LittleEndian(record);
            method = (CdpMethod)BinaryPrimitives.ReadInt32LittleEndian(record[4..]);
            timestamp = BinaryPrimitives.ReadInt64LittleEndian(record[8..]);
            command = bytes.AsMemory(_offset + RecordHeaderBytes, commandLength);
            _offset += RecordHeaderBytes + commandLength;
            return true;
        }
    }
}
