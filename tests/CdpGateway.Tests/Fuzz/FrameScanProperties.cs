using CdpGateway.Proxy;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

public class FrameScanProperties
{
    private const long MaxMessage = 1_000;

    /// <summary>
    /// A client's frame stream: mostly valid masked frames (messages fragmented or not, pings, a close now and then), with
    /// a header bit, opcode or length drawn at random once in a while.
    /// </summary>
    private static readonly Gen<byte[]> Streams =
        Gen.Select(Gen.Int[0, 15], Gen.Int[0, 9], Gen.Int[0, 300], Gen.Int, Gen.Int[0, 2])
            .Select((opcode, bits, length, key, form) =>
            {
                bool fin = bits != 1;
                int op = bits == 2 ? opcode : new[] { 1, 2, 0, 9, 10, 8, 1, 0 }[opcode % 8];
                int reserved = bits == 3 ? 0x40 : 0;
                bool masked = bits != 4;
                var frame = new List<byte> { (byte)((fin ? 0x80 : 0) | reserved | op) };
                if (form == 2 && length > 125)
                {
                    frame.Add((byte)((masked ? 0x80 : 0) | 126));
                    frame.Add((byte)(length >> 8));
                    frame.Add((byte)length);
                }
                else
                {
                    length %= 126;
                    frame.Add((byte)((masked ? 0x80 : 0) | length));
                }
                if (masked)
                {
                    frame.AddRange(BitConverter.GetBytes(key));
                }
                frame.AddRange(Enumerable.Range(0, length).Select(i => (byte)(i * 7 + key)));
                return frame.ToArray();
            })
            .Array[0, 12]
            .Select(frames => frames.SelectMany(f => f).ToArray());

    private static (WebSocketFrameRelay.Stop Stop, int End, int Messages, long Payload) ScanInPieces(byte[] data, int[] cuts)
    {
        var cursor = new FrameCursor(peerMasks: true);
        var scanned = default(WebSocketFrameRelay.Scanned);
        var stop = WebSocketFrameRelay.Stop.None;
        foreach (var cut in cuts.Select(c => c % (data.Length + 1)).Order().Append(data.Length))
        {
            if (cut < scanned.End)
            {
                continue;
            }
            stop = WebSocketFrameRelay.Scan(ref cursor, data.AsSpan(0, cut), MaxMessage, finishing: false, ref scanned);
            Assert.InRange(scanned.End, 0, cut);
            if (stop != WebSocketFrameRelay.Stop.None)
            {
                break;
            }
        }
        return (stop, scanned.End, scanned.Messages, scanned.PayloadBytes);
    }

    [Fact]
    public void AStreamScansTheSameWhicheverPiecesItArrivesIn() =>
        Gen.Select(Streams, Gen.Int[0, int.MaxValue].Array[0, 6]).Sample((data, cuts) =>
        {
            var whole = ScanInPieces(data, []);
            var pieces = ScanInPieces(data, cuts);
            Assert.Equal(whole, pieces);
            if (whole.Stop == WebSocketFrameRelay.Stop.Closed)
            {
                Assert.True(FrameHeader.TryRead(data.AsSpan(whole.End), out var header));
                Assert.True(data.Length - whole.End >= header.Length + header.PayloadLength);
                CloseFrame.TryRead(data.AsSpan(whole.End).ToArray(), out _, out _);
            }
            else if (whole.Stop == WebSocketFrameRelay.Stop.None)
            {
                // Only an unfinished header is left over: every whole frame before it was passed.
                Assert.True(whole.End == data.Length || !FrameHeader.TryRead(data.AsSpan(whole.End), out _));
            }
        }, iter: FuzzRuns.Iterations);

    [Fact]
    public void AnyBytesScanWithoutThrowingAndStopWithinThem() =>
        Gen.Select(Gen.Byte.Array[0, 200], Gen.Bool).Sample((data, masks) =>
        {
            var cursor = new FrameCursor(masks);
            var scanned = default(WebSocketFrameRelay.Scanned);
            WebSocketFrameRelay.Scan(ref cursor, data, MaxMessage, finishing: false, ref scanned);
            Assert.InRange(scanned.End, 0, data.Length);
            Assert.InRange(scanned.PayloadBytes, 0, data.Length);
        }, iter: FuzzRuns.Iterations);
}
