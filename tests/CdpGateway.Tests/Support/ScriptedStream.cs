using System.Threading.Channels;

namespace CdpGateway.Tests.Support;

/// <summary>
/// A stream for relay unit tests: reads return the pieces fed to it, exactly as cut (so a test decides
/// where every read boundary falls); writes are recorded one by one. A zero-byte read completes once a
/// piece is waiting, without taking it, as a socket's does.
/// </summary>
public sealed class ScriptedStream : Stream
{
    private readonly Channel<byte[]> _pieces = Channel.CreateUnbounded<byte[]>();
    private byte[]? _current;
    private int _offset;
    private readonly MemoryStream _written = new();

    /// <summary>The size of every read asked for, in order (0 for a zero-byte read).</summary>
    public List<int> ReadSizes { get; } = [];

    /// <summary>How many bytes the reads have taken so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Each write's bytes, in order.</summary>
    public List<byte[]> Writes { get; } = [];

    /// <summary>Makes every write from now on fail, as to a peer that went away.</summary>
    public bool FailWrites { get; set; }

    /// <summary>Runs after each recorded write, inside it.</summary>
    public Action<byte[]>? OnWrite { get; set; }

    public byte[] Written
    {
        get
        {
            lock (_written)
            {
                return _written.ToArray();
            }
        }
    }

    public void Feed(params byte[][] pieces)
    {
        foreach (var piece in pieces)
        {
            _pieces.Writer.TryWrite(piece);
        }
    }

    /// <summary>Feeds <paramref name="data"/> cut at the given offsets.</summary>
    public void FeedCut(byte[] data, params int[] cuts)
    {
        var start = 0;
        foreach (var cut in cuts.Append(data.Length))
        {
            if (cut > start)
            {
                Feed(data[start..cut]);
                start = cut;
            }
        }
    }

    /// <summary>After the pieces fed so far, reads see the end of the stream.</summary>
    public void End() => _pieces.Writer.TryComplete();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        lock (ReadSizes)
        {
            ReadSizes.Add(buffer.Length);
        }
        if (_current is null)
        {
            if (!await _pieces.Reader.WaitToReadAsync(cancellationToken))
            {
                return 0;
            }
            if (buffer.IsEmpty)
            {
                return 0;
            }
            _current = await _pieces.Reader.ReadAsync(cancellationToken);
            _offset = 0;
        }
        if (buffer.IsEmpty)
        {
            return 0;
        }
        var count = Math.Min(buffer.Length, _current.Length - _offset);
        _current.AsSpan(_offset, count).CopyTo(buffer.Span);
        _offset += count;
        BytesRead += count;
        if (_offset == _current.Length)
        {
            _current = null;
        }
        return count;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (FailWrites)
        {
            return ValueTask.FromException(new IOException("the peer went away"));
        }
        var copy = buffer.ToArray();
        lock (_written)
        {
            _written.Write(copy);
            Writes.Add(copy);
        }
        OnWrite?.Invoke(copy);
        return ValueTask.CompletedTask;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
