using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Bench.Micro;

/// <summary>
/// Two connected in-memory streams (like a socket pair) over two <see cref="Pipe"/>s with inline
/// schedulers: no thread hops, no socket, so a benchmark sees only the WebSocket and relay CPU.
/// </summary>
public static class InMemoryDuplex
{
    public static (Stream A, Stream B) CreatePair()
    {
        var options = new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: 64L << 20, resumeWriterThreshold: 32L << 20, useSynchronizationContext: false);
        var ab = new Pipe(options);
        var ba = new Pipe(options);
        return (new PipeStream(ba.Reader, ab.Writer), new PipeStream(ab.Reader, ba.Writer));
    }

    private sealed class PipeStream(PipeReader reader, PipeWriter writer) : Stream
    {
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        // Pooled, like a socket's awaitable: a pending read must not box a state machine per message,
        // or the harness would show allocations the production pump does not make.
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var data = result.Buffer;
                if (data.IsEmpty && result.IsCompleted)
                {
                    reader.AdvanceTo(data.End);
                    return 0;
                }
                if (buffer.Length == 0)
                {
                    // A zero-byte read completes once data is there, and consumes nothing.
                    reader.AdvanceTo(data.Start, data.Start);
                    if (!data.IsEmpty)
                    {
                        return 0;
                    }
                    continue;
                }
                int n = (int)Math.Min(buffer.Length, data.Length);
                var slice = data.Slice(0, n);
                slice.CopyTo(buffer.Span);
                reader.AdvanceTo(slice.End);
                return n;
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            await writer.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                reader.Complete();
                writer.Complete();
            }
            base.Dispose(disposing);
        }
    }
}
