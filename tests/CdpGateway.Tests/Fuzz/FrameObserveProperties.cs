using CdpGateway.Proxy;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

public class FrameObserveProperties
{
    /// <summary>Keeps every message it is shown, whole, with whether its first piece said it was also the last.</summary>
    private sealed class RecordingTap : IMessageTap
    {
        private readonly List<byte> _current = [];
        private bool _endedAtBegin;

        public List<byte[]> Messages { get; } = [];
        public bool WantsMessages => true;

        public bool Begin(ReadOnlySpan<byte> firstChunk, bool endOfMessage)
        {
            _current.Clear();
            _current.AddRange(firstChunk.ToArray());
            _endedAtBegin = endOfMessage;
            return true;
        }

        public void Append(ReadOnlySpan<byte> chunk)
        {
            Assert.False(_endedAtBegin);
            _current.AddRange(chunk.ToArray());
        }

        public void Forwarded(long timestamp) => Messages.Add([.. _current]);

        public void Abandon()
        {
        }
    }

    /// <summary>The text messages of a valid stream, unmasked: what a tap that wants messages must be shown, in order.</summary>
    private static List<byte[]> TextMessages(List<FrameSpec> frames)
    {
        var messages = new List<byte[]>();
        List<byte>? text = null;
        foreach (var frame in frames)
        {
            if (frame.Opcode >= 8)
            {
                continue;
            }
            if (frame.Opcode != 0)
            {
                text = frame.Opcode == 1 ? [] : null;
            }
            var wire = frame.Encode();
            var payload = wire[(wire.Length - frame.Written)..];
            var key = BitConverter.GetBytes(frame.Key);
            text?.AddRange(payload.Select((b, i) => frame.Masked ? (byte)(b ^ key[i % 4]) : b));
            if (frame.Fin && text is not null)
            {
                messages.Add([.. text]);
                text = null;
            }
        }
        return messages;
    }

    [Fact]
    public void ObservingForwardedPiecesShowsTheTapEveryTextMessageWholeAndUnmasked() =>
        FrameStreams.Cases.Sample(t =>
        {
            var frames = FrameStreams.Valid(t.Draws, t.Masks);
            var data = FrameStreams.Encode(frames);
            var tap = new RecordingTap();
            var options = new WebSocketFrameRelay.Options(long.MaxValue, TimeProvider.System, Tap: tap);
            var cursor = new FrameCursor(t.Masks);
            var sentCursor = cursor;
            var observed = default(WebSocketFrameRelay.Observed);
            var start = 0;
            // As a relay direction does: scan what came, observe what of it went out, keep the rest for the next read.
            foreach (var cut in FrameStreams.Cuts(t.Cuts, data.Length).Append(data.Length))
            {
                if (cut <= start)
                {
                    continue;
                }
                var piece = data[start..cut];
                var scanned = default(WebSocketFrameRelay.Scanned);
                Assert.Equal(WebSocketFrameRelay.Stop.None, WebSocketFrameRelay.Scan(ref cursor, piece, long.MaxValue, finishing: false, ref scanned));
                WebSocketFrameRelay.Observe(ref sentCursor, ref observed, piece.AsSpan(0, scanned.End), options);
                Assert.Equal(cursor, sentCursor);
                start += scanned.End;
            }

            Assert.Equal(data.Length, start);
            Assert.Equal(TextMessages(frames), tap.Messages);
        }, iter: FuzzRuns.Iterations, print: FrameStreams.Print);
}
