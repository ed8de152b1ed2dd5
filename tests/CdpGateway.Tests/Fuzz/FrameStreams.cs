using System.Buffers.Binary;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

/// <summary>One frame as the tests mean it, before it is put into bytes.</summary>
/// <param name="LengthForm">0: the shortest length field; 1: the 16-bit field; 2: the 64-bit field (even for a small length).</param>
internal sealed record FrameSpec(bool Fin, int Reserved, int Opcode, bool Masked, long Length, int LengthForm, int Key)
{
    /// <summary>Payload bytes written after the header: none for a length that cannot be (negative on the wire).</summary>
    public int Written => Length < 0 ? 0 : (int)Length;

    public byte[] Encode()
    {
        var header = Header();
        var bytes = new byte[header.Length + Written];
        header.CopyTo(bytes, 0);
        // Payload bytes that look like headers now and then (0x88 is a close, 0x81 a text frame).
        for (var i = 0; i < Written; i++)
        {
            bytes[header.Length + i] = (byte)(i % 5 == 0 ? 0x88 : i * 31 + Key);
        }
        return bytes;
    }

    public byte[] Header()
    {
        var bytes = new List<byte> { (byte)((Fin ? 0x80 : 0) | (Reserved << 4) | Opcode) };
        var maskBit = Masked ? 0x80 : 0;
        if (LengthForm == 2 || Length < 0 || Length > ushort.MaxValue)
        {
            bytes.Add((byte)(maskBit | 127));
            var field = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(field, Length);
            bytes.AddRange(field);
        }
        else if (LengthForm == 1 || Length > 125)
        {
            bytes.AddRange([(byte)(maskBit | 126), (byte)(Length >> 8), (byte)Length]);
        }
        else
        {
            bytes.Add((byte)(maskBit | (int)Length));
        }
        if (Masked)
        {
            bytes.AddRange(BitConverter.GetBytes(Key));
        }
        return [.. bytes];
    }
}

/// <summary>
/// Frame streams built from a stream of drawn numbers (so CsCheck shrinks a failing stream by shrinking the numbers):
/// data messages, fragmented or not, with pings and pongs between their frames, masked for a client and unmasked for
/// a server, and at times one frame made wrong in one of the ways RFC 6455 §5 forbids.
/// </summary>
internal static class FrameStreams
{
    public static readonly Gen<int[]> Draws = Gen.Int[0, int.MaxValue].Array[1, 60];

    /// <summary>
    /// A stream to build (<see cref="Valid"/>, or <see cref="Mutated"/> unless Mutation is <see cref="Mutations"/>) for a
    /// client (Masks) or a server, and cut points for the pieces it arrives in.
    /// </summary>
    public static readonly Gen<(int[] Draws, bool Masks, int Mutation, int At, int[] Cuts)> Cases =
        Gen.Select(Draws, Gen.Bool, Gen.Int[0, Mutations], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue].Array[0, 8]);

    /// <summary>The frames of a <see cref="Cases"/> case.</summary>
    public static List<FrameSpec> Build(int[] draws, bool masks, int mutation, int at) =>
        mutation == Mutations ? Valid(draws, masks) : Mutated(draws, masks, mutation, at);

    public static string Print((int[] Draws, bool Masks, int Mutation, int At, int[] Cuts) t) =>
        $"{string.Join(",", t.Draws)} masks={t.Masks} mutation={t.Mutation} at={t.At} cuts={string.Join(",", t.Cuts)}";

    /// <summary>The ways a frame is made wrong; the last ones only sometimes are (the model decides).</summary>
    public const int Mutations = 10;

    private sealed class Drawn(int[] draws)
    {
        private int _next;

        public int Next(int count) => draws.Length == 0 ? 0 : draws[_next++ % draws.Length] % count;

        public long Length() => Next(16) switch
        {
            0 => 0,
            1 or 2 => 126 + Next(400),
            3 => ushort.MaxValue + 1 + Next(3),
            _ => Next(126),
        };
    }

    /// <summary>Valid frames: messages of one to three frames, a ping or pong before any of them now and then.</summary>
    public static List<FrameSpec> Valid(int[] draws, bool masked)
    {
        var d = new Drawn(draws);
        var frames = new List<FrameSpec>();
        for (var messages = d.Next(6); messages > 0; messages--)
        {
            var fragments = 1 + d.Next(3);
            var opcode = d.Next(2) == 0 ? 1 : 2;
            for (var f = 0; f < fragments; f++)
            {
                if (d.Next(3) == 0)
                {
                    frames.Add(new FrameSpec(true, 0, d.Next(2) == 0 ? 9 : 10, masked, d.Next(126), d.Next(3), d.Next(int.MaxValue)));
                }
                frames.Add(new FrameSpec(f == fragments - 1, 0, f == 0 ? opcode : 0, masked, d.Length(), d.Next(3), d.Next(int.MaxValue)));
            }
        }
        return frames;
    }

    /// <summary>Valid frames whose last message, now and then (as <paramref name="draw"/> says), has no end: its final frame loses FIN.</summary>
    public static List<FrameSpec> LastMessageOpenOrNot(List<FrameSpec> frames, int draw)
    {
        if (draw % 2 == 0 && frames.FindLastIndex(f => f.Opcode < 8) is var last and >= 0)
        {
            frames[last] = frames[last] with { Fin = false };
        }
        return frames;
    }

    /// <summary><see cref="Valid"/> with one frame inserted or changed by <paramref name="mutation"/> at a drawn place.</summary>
    public static List<FrameSpec> Mutated(int[] draws, bool masked, int mutation, int at)
    {
        var frames = Valid(draws, masked);
        var index = at % (frames.Count + 1);
        var near = index < frames.Count ? frames[index] : new FrameSpec(true, 0, 2, masked, 3, 0, 7);
        switch (mutation)
        {
            case 0:
                frames.Insert(index, near with { Opcode = 0, Fin = true });
                break;
            case 1:
                frames.Insert(index, near with { Opcode = 1 });
                break;
            case 2:
                frames.Insert(index, near with { Masked = !masked });
                break;
            case 3:
                frames.Insert(index, near with { Reserved = 1 + at % 7 });
                break;
            case 4:
                frames.Insert(index, new FrameSpec(true, 0, 9 + at % 2, masked, 126 + at % 200, at % 3, at));
                break;
            case 5:
                frames.Insert(index, new FrameSpec(false, 0, 9 + at % 2, masked, at % 126, 0, at));
                break;
            case 6:
                frames.Insert(index, near with { Opcode = new[] { 3, 4, 5, 6, 7, 11, 12, 13, 14, 15 }[at % 10] });
                break;
            case 7:
                frames.Insert(index, near with { Length = long.MinValue + at, LengthForm = 2 });
                break;
            case 8:
                // A data frame's FIN flipped: a message ended early or left open, wrong only if a later frame says so.
                if (index < frames.Count && frames[index].Opcode < 3)
                {
                    frames[index] = near with { Fin = !near.Fin };
                }
                break;
            default:
                // A frame left out: a continuation may then have no message, or a message no end.
                if (index < frames.Count)
                {
                    frames.RemoveAt(index);
                }
                break;
        }
        return frames;
    }

    public static byte[] Encode(IEnumerable<FrameSpec> frames) => [.. frames.SelectMany(f => f.Encode())];

    /// <summary>
    /// RFC 6455 §5 for a frame arriving when a data message is or is not open, written apart from the product: the
    /// reason it is refused, or null.
    /// </summary>
    public static string? Refusal(FrameSpec frame, bool inMessage, bool peerMasks)
    {
        if (frame.Reserved != 0)
        {
            return "reserved bits";
        }
        if (frame.Length < 0)
        {
            return "negative length";
        }
        if (frame.Masked != peerMasks)
        {
            return "mask";
        }
        if (frame.Opcode >= 8 && frame.Opcode <= 10)
        {
            return !frame.Fin ? "fragmented control" : frame.Length > 125 ? "oversized control" : null;
        }
        return frame.Opcode switch
        {
            0 => inMessage ? null : "continuation outside a message",
            1 or 2 => inMessage ? "new message inside one" : null,
            _ => "unknown opcode",
        };
    }

    /// <summary>What the model expects of a stream: the first refused frame (or the count when none is) and the messages before it.</summary>
    public static (int FirstRefused, int Messages, bool InMessage) Model(IReadOnlyList<FrameSpec> frames, bool peerMasks)
    {
        var inMessage = false;
        var messages = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            var frame = frames[i];
            if (Refusal(frame, inMessage, peerMasks) is not null)
            {
                return (i, messages, inMessage);
            }
            if (frame.Opcode < 8)
            {
                inMessage = !frame.Fin;
                messages += frame.Fin ? 1 : 0;
            }
        }
        return (frames.Count, messages, inMessage);
    }

    /// <summary>Sorted cut points inside <paramref name="length"/> bytes, drawn from <paramref name="cuts"/>.</summary>
    public static int[] Cuts(int[] cuts, int length) => [.. cuts.Select(c => c % (length + 1)).Order().Distinct()];
}
