using CdpGateway.Proxy;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

public class FrameCursorProperties
{
    private readonly record struct Walked(int Frames, int Messages, int Fragments, int Controls, bool Refused, int End, FrameCursor Cursor);

    /// <summary>
    /// Walks <paramref name="data"/> as it arrives in pieces ending at <paramref name="cuts"/>: a header once it is all
    /// there (checked, then entered), payload as far as each piece goes. Stops at the first refused header.
    /// </summary>
    private static Walked WalkInPieces(byte[] data, int[] cuts, bool peerMasks, List<FrameSpec> frames)
    {
        var cursor = new FrameCursor(peerMasks);
        int pos = 0, frame = 0, messages = 0, fragments = 0, controls = 0;
        long messagePayload = 0;
        void Count(FrameProgress progress, in FrameCursor cursor)
        {
            switch (progress)
            {
                case FrameProgress.MessageDone:
                    messages++;
                    Assert.False(cursor.InMessage);
                    Assert.Equal(messagePayload, cursor.MessagePayload);
                    break;
                case FrameProgress.FragmentDone:
                    fragments++;
                    Assert.True(cursor.InMessage);
                    break;
                case FrameProgress.ControlDone:
                    controls++;
                    break;
            }
            Assert.Equal(progress == FrameProgress.InFrame, cursor.Remaining > 0);
        }
        foreach (var end in cuts.Append(data.Length))
        {
            while (true)
            {
                if (cursor.Remaining > 0)
                {
                    var take = (int)Math.Min(cursor.Remaining, end - pos);
                    if (take == 0)
                    {
                        break;
                    }
                    Assert.Equal(cursor.Frame.PayloadLength, cursor.FrameOffset + cursor.Remaining);
                    Count(cursor.Consume(take), cursor);
                    pos += take;
                    continue;
                }
                if (!FrameHeader.TryRead(data.AsSpan(pos, end - pos), out var header))
                {
                    break;
                }
                var spec = frames[frame];
                Assert.Equal((spec.Fin, spec.Opcode, spec.Masked, spec.Length), (header.Fin, (int)header.Opcode, header.Masked, header.PayloadLength));
                if (cursor.Violation(header) is not null)
                {
                    return new Walked(frame, messages, fragments, controls, true, pos, cursor);
                }
                if (spec.Opcode is 1 or 2)
                {
                    messagePayload = spec.Length;
                }
                else if (spec.Opcode == 0)
                {
                    messagePayload += spec.Length;
                }
                pos += header.Length;
                frame++;
                Count(cursor.Enter(header), cursor);
                Assert.Equal(0, cursor.FrameOffset);
            }
        }
        return new Walked(frame, messages, fragments, controls, false, pos, cursor);
    }

    [Fact]
    public void AStreamWalkedInAnyPiecesEndsAtAFrameBoundaryAndIsRefusedExactlyWhereTheModelRefusesIt() =>
        FrameStreams.Cases.Sample(t =>
        {
            var (draws, masks, mutation, at, cuts) = t;
            var frames = FrameStreams.Build(draws, masks, mutation, at);
            var data = FrameStreams.Encode(frames);
            var expected = FrameStreams.Model(frames, masks);
            var walked = WalkInPieces(data, FrameStreams.Cuts(cuts, data.Length), masks, frames);

            Assert.Equal(expected.FirstRefused, walked.Frames);
            Assert.Equal(expected.FirstRefused < frames.Count, walked.Refused);
            Assert.Equal(expected.Messages, walked.Messages);
            Assert.Equal(expected.InMessage, walked.Cursor.InMessage);
            Assert.Equal(0, walked.Cursor.Remaining);
            var before = frames.Take(walked.Frames).ToList();
            Assert.Equal(before.Count(f => f.Opcode < 8 && !f.Fin), walked.Fragments);
            Assert.Equal(before.Count(f => f.Opcode >= 8), walked.Controls);
            Assert.Equal(walked.Refused ? FrameStreams.Encode(before).Length : data.Length, walked.End);
            if (mutation == FrameStreams.Mutations)
            {
                Assert.False(walked.Refused);
            }
        }, iter: FuzzRuns.Iterations, print: FrameStreams.Print);

    /// <summary>Any header at all, after a valid stream that leaves a message open or not, for either side.</summary>
    private static readonly Gen<(int[] Draws, bool Masks, FrameSpec Header)> AnyHeaderAfterAStream =
        Gen.Select(FrameStreams.Draws, Gen.Bool,
            Gen.Select(Gen.Bool, Gen.Int[0, 7], Gen.Int[0, 15], Gen.Bool,
                Gen.OneOf(Gen.Long[0, 140], Gen.Long[0, 70_000], Gen.Long[long.MinValue, -1], Gen.Const(long.MaxValue)), Gen.Int[0, 2])
                .Select((fin, reserved, opcode, masked, length, form) => new FrameSpec(fin, reserved, opcode, masked, length, form, 0x5A5A5A5A)));

    [Fact]
    public void AnyHeaderIsRefusedExactlyWhenTheModelRefusesIt() =>
        AnyHeaderAfterAStream.Sample(t =>
        {
            var (draws, masks, spec) = t;
            var frames = FrameStreams.LastMessageOpenOrNot(FrameStreams.Valid(draws, masks), draws[0]);
            var walked = WalkInPieces(FrameStreams.Encode(frames), [], masks, frames);
            Assert.False(walked.Refused);

            Assert.True(FrameHeader.TryRead(spec.Header(), out var header));
            var expected = FrameStreams.Refusal(spec, FrameStreams.Model(frames, masks).InMessage, masks);
            var violation = walked.Cursor.Violation(header);
            Assert.True((expected is null) == (violation is null), $"the model says {expected ?? "fine"}, the cursor {violation ?? "fine"}");
        }, iter: FuzzRuns.Iterations, print: t => $"{string.Join(",", t.Draws)} masks={t.Masks} {t.Header}");
}
