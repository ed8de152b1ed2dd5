using System.Net.WebSockets;
using CdpGateway.Proxy;
using CdpGateway.Tests.Support;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

public class DrainProperties
{
    /// <summary>
    /// Drains <paramref name="frames"/>, then a close frame, then a frame no peer may send, arriving in pieces cut at
    /// <paramref name="cuts"/> and wherever <paramref name="alsoCutAt"/> says, the first <paramref name="held"/> bytes
    /// already read past the handshake (at most all of them). The drain must be done at once: every byte it may want is there.
    /// </summary>
    private static (WebSocketState State, long Taken) Drain(List<FrameSpec> frames, FrameSpec close, bool masks, int[] cuts, int alsoCutAt, int held)
    {
        var data = FrameStreams.Encode(frames.Append(close));
        var stream = new ScriptedStream();
        var rest = data[held..];
        stream.FeedCut(rest, [.. FrameStreams.Cuts(cuts, rest.Length).Append(alsoCutAt - held).Where(c => c > 0).Order().Distinct()]);
        stream.Feed(new FrameSpec(true, 0, 2, !masks, 4, 0, 1).Encode());
        stream.End();
        using var leg = new WebSocketLeg(stream, masks, data.AsMemory(0, held));
        var drain = leg.DrainUntilCloseAsync(CancellationToken.None);
        // Wait throws if the drain did.
        Assert.True(drain.Wait(TimeSpan.FromSeconds(10)));
        return (leg.State, held + stream.BytesRead);
    }

    [Fact]
    public void TheDrainStopsRightAfterTheCloseFrameOrAtTheFirstViolation() =>
        FrameStreams.Cases.Sample(t =>
        {
            var (draws, masks, mutation, at, cuts) = t;
            // A close may come while a message is open.
            var frames = mutation == FrameStreams.Mutations
                ? FrameStreams.LastMessageOpenOrNot(FrameStreams.Valid(draws, masks), draws[0])
                : FrameStreams.Mutated(draws, masks, mutation, at);
            var expected = FrameStreams.Model(frames, masks);
            var refused = expected.FirstRefused < frames.Count;
            var close = new FrameSpec(true, 0, 8, masks, at % 126, at % 3, at);
            // Where the drain must stop: after the refused header, or after the close.
            var stopAt = refused
                ? FrameStreams.Encode(frames.Take(expected.FirstRefused)).Length + frames[expected.FirstRefused].Header().Length
                : FrameStreams.Encode(frames.Append(close)).Length;
            var held = at % (FrameStreams.Encode(frames.Append(close)).Length + 1);

            var (state, taken) = Drain(frames, close, masks, cuts, stopAt, held);

            Assert.Equal(refused ? WebSocketState.Open : WebSocketState.CloseReceived, state);
            // Held bytes are the drain's whatever they hold; past them it reads no further than it must.
            Assert.Equal(Math.Max(stopAt, held), taken);
        }, iter: FuzzRuns.Iterations, print: FrameStreams.Print);
}
