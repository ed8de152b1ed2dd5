using System.Net.WebSockets;
using System.Text;
using CdpGateway.Proxy;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>One relay direction over scripted streams: where reads end is the test's choice.</summary>
public sealed class WebSocketFrameRelayTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private sealed class Direction
    {
        public ScriptedStream From { get; } = new();
        public ScriptedStream To { get; } = new();
        public RelayCounters Counters { get; } = new();
        public WebSocketLeg Source { get; }
        public WebSocketLeg Destination { get; }

        public Direction(bool fromClient, ReadOnlyMemory<byte> alreadyRead = default)
        {
            Source = new WebSocketLeg(From, peerMasks: fromClient, alreadyRead);
            Destination = new WebSocketLeg(To, peerMasks: !fromClient);
        }

        public Task<RelayOutcome> Run(long maxMessageBytes = 1 << 30, IMessageTap? tap = null, WebSocketFrameRelay.MessageLogging? logging = null) =>
            WebSocketFrameRelay.CopyAsync(Source, Destination, Counters, new WebSocketFrameRelay.Options(maxMessageBytes, TimeProvider.System, logging, tap));
    }

    /// <summary>Records what the relay shows it, and what had been written when each message was declared forwarded.</summary>
    private sealed class RecordingTap(ScriptedStream destination, bool accept = true) : IMessageTap
    {
        private readonly List<byte> _current = [];
        public List<string> Messages { get; } = [];
        private bool _wants = true;
        private int _wantsAsked;

        public bool WantsMessages
        {
            get
            {
                Interlocked.Increment(ref _wantsAsked);
                return Volatile.Read(ref _wants);
            }
            set => Volatile.Write(ref _wants, value);
        }

        /// <summary>How many times the relay asked whether the tap wants a message (once per text message it forwarded).</summary>
        public int WantsAsked => Volatile.Read(ref _wantsAsked);
        public List<int> WrittenAtForward { get; } = [];
        public List<(int Length, bool End)> Begins { get; } = [];
        public int Appends { get; private set; }
        public int Abandons { get; private set; }

        public bool Begin(ReadOnlySpan<byte> firstChunk, bool endOfMessage)
        {
            Begins.Add((firstChunk.Length, endOfMessage));
            _current.Clear();
            _current.AddRange(firstChunk.ToArray());
            return accept;
        }

        public void Append(ReadOnlySpan<byte> chunk)
        {
            Appends++;
            _current.AddRange(chunk.ToArray());
        }

        public void Forwarded(long timestamp)
        {
            Messages.Add(Encoding.UTF8.GetString([.. _current]));
            WrittenAtForward.Add(destination.Written.Length);
        }

        public void Abandon() => Abandons++;
    }

    public static TheoryData<int, bool> PayloadSizes => new()
    {
        { 5, true }, { 5, false },         // 7-bit length
        { 300, true }, { 300, false },     // 16-bit length
        { 70_000, true }, { 70_000, false }, // 64-bit length
    };

    [Theory]
    [MemberData(nameof(PayloadSizes))]
    public async Task AFrameCutAtEveryHeaderByteGoesThroughUnchanged(int payloadLength, bool fromClient)
    {
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        var frame = Frames.Build(FrameOpcode.Binary, payload, masked: fromClient);
        var headerLength = frame.Length - payloadLength;
        for (var cut = 1; cut <= headerLength; cut++)
        {
            var d = new Direction(fromClient);
            var run = d.Run();
            d.From.FeedCut(frame, cut);
            d.From.Feed(Frames.Close(1000, "", fromClient));

            var outcome = await run.WaitAsync(Patience);

            Assert.Equal(RelayEnd.SourceClosed, outcome.End);
            Assert.Equal(frame, d.To.Written);
            Assert.Equal(1, d.Counters.Messages);
            Assert.Equal(payloadLength, d.Counters.Bytes);
            Assert.True(d.To.Writes[0].Length >= headerLength, "a header went out in pieces");
        }
    }

    [Fact]
    public async Task EveryByteInItsOwnReadStillMakesTheSameStream()
    {
        var stream = Frames.Concat(
            Frames.Text("{\"id\":1}", masked: true),
            Frames.Build(FrameOpcode.Ping, [1, 2, 3], masked: true),
            Frames.Build(FrameOpcode.Binary, new byte[200], masked: true),
            Frames.Text("", masked: true));
        var d = new Direction(fromClient: true);
        var run = d.Run();
        d.From.FeedCut(stream, Enumerable.Range(1, stream.Length - 1).ToArray());
        d.From.Feed(Frames.Close(1001, "going", masked: true));

        var outcome = await run.WaitAsync(Patience);

        Assert.Equal(new RelayOutcome(RelayEnd.SourceClosed, WebSocketCloseStatus.EndpointUnavailable, "going"), outcome);
        Assert.Equal(stream, d.To.Written);
        Assert.Equal(3, d.Counters.Messages);
        Assert.Equal(8 + 200, d.Counters.Bytes);
    }

    [Fact]
    public async Task AHeaderIsNeverWrittenInPieces()
    {
        var frame = Frames.Build(FrameOpcode.Binary, new byte[300], masked: true); // 8-byte header
        var d = new Direction(fromClient: true);
        var run = d.Run();
        d.From.Feed(Frames.Text("a", masked: true).Concat(frame[..3]).ToArray(), frame[3..]);
        d.From.Feed(Frames.Close(1000, "", masked: true));

        await run.WaitAsync(Patience);

        Assert.Equal(Frames.Text("a", masked: true), d.To.Writes[0]);
        Assert.Equal(frame, d.To.Writes.Skip(1).SelectMany(w => w).ToArray());
    }

    [Fact]
    public async Task WhatOneReadBringsGoesOutInOneWrite()
    {
        var three = Frames.Concat(Frames.Text("1", true), Frames.Text("2", true), Frames.Text("3", true));
        var d = new Direction(fromClient: true);
        var run = d.Run();
        d.From.Feed(three);
        d.From.Feed(Frames.Close(1000, "", true));

        await run.WaitAsync(Patience);

        Assert.Single(d.To.Writes);
        Assert.Equal(three, d.To.Writes[0]);
        Assert.Equal(3, d.Counters.Messages);
        Assert.Equal(3, d.Counters.Bytes);
    }

    [Fact]
    public async Task AFragmentedMessageWithAPingInsideIsForwardedAsItCameAndCountedOnce()
    {
        var stream = Frames.Concat(
            Frames.Text("{\"method\":", masked: true, fin: false),
            Frames.Build(FrameOpcode.Ping, Encoding.ASCII.GetBytes("p"), masked: true),
            Frames.Build(FrameOpcode.Continuation, Encoding.UTF8.GetBytes("\"A.b\"}"), masked: true));
        var d = new Direction(fromClient: true);
        var tap = new RecordingTap(d.To);
        var run = d.Run(tap: tap);
        d.From.FeedCut(stream, 5, 20);
        d.From.Feed(Frames.Close(1000, "", true));

        await run.WaitAsync(Patience);

        Assert.Equal(stream, d.To.Written);
        Assert.Equal(1, d.Counters.Messages);
        Assert.Equal("{\"method\":\"A.b\"}".Length, d.Counters.Bytes);
        Assert.Equal(["{\"method\":\"A.b\"}"], tap.Messages);
    }

    [Fact]
    public async Task TheTapSeesUnmaskedTextAndHearsForwardedOnlyAfterTheFinalWrite()
    {
        var text = "{\"id\":7,\"method\":\"Input.dispatchMouseEvent\",\"params\":{\"x\":" + new string('1', 100) + "}}";
        var frame = Frames.Text(text, masked: true);
        var d = new Direction(fromClient: true);
        var tap = new RecordingTap(d.To);
        var run = d.Run(tap: tap);
        d.From.FeedCut(frame, 10, 50, 51);
        d.From.Feed(Frames.Build(FrameOpcode.Binary, [1, 2], masked: true));
        d.From.Feed(Frames.Close(1000, "", true));

        await run.WaitAsync(Patience);

        Assert.Equal([text], tap.Messages);
        Assert.Equal([frame.Length], tap.WrittenAtForward);
        Assert.Single(tap.Begins); // the binary message is not shown to the tap
        Assert.Equal(0, tap.Abandons);
        // The bytes forwarded were the masked ones, not what the tap was shown.
        Assert.Equal(frame, d.To.Written[..frame.Length]);
    }

    [Fact]
    public async Task ATapThatDeclinesIsNotShownTheRest()
    {
        var d = new Direction(fromClient: true);
        var tap = new RecordingTap(d.To, accept: false);
        var run = d.Run(tap: tap);
        d.From.FeedCut(Frames.Text("{\"id\":1,\"method\":\"X.y\"}", masked: true), 10);
        d.From.Feed(Frames.Close(1000, "", true));

        await run.WaitAsync(Patience);

        Assert.Single(tap.Begins);
        Assert.Equal(0, tap.Appends);
        Assert.Empty(tap.Messages);
    }

    [Fact]
    public async Task ATapSwitchedOffIsShownNothingAndTheNextMessageAfterItIsSwitchedOnIsShownWhole()
    {
        var first = "{\"id\":1,\"method\":\"Input.insertText\",\"params\":{\"text\":\"secret\"}}";
        var second = "{\"id\":2,\"method\":\"Input.insertText\",\"params\":{\"text\":\"other\"}}";
        var d = new Direction(fromClient: true);
        var tap = new RecordingTap(d.To) { WantsMessages = false };
        var run = d.Run(tap: tap);
        var firstFrame = Frames.Text(first, masked: true);
        d.From.FeedCut(firstFrame, 7);
        // Written is not yet observed: the relay asks the tap about a message after its write completes.
        await WaitUntil(() => d.To.Written.Length == firstFrame.Length && tap.WantsAsked > 0);
        Assert.Empty(tap.Begins);

        tap.WantsMessages = true;
        d.From.Feed(Frames.Text(second, masked: true));
        d.From.Feed(Frames.Close(1000, "", true));
        await run.WaitAsync(Patience);

        Assert.Equal([second], tap.Messages);
        Assert.Equal(firstFrame, d.To.Written[..firstFrame.Length]);
    }

    [Fact]
    public async Task AMessageCutShortAbandonsTheTap()
    {
        var d = new Direction(fromClient: true);
        var tap = new RecordingTap(d.To);
        var run = d.Run(tap: tap);
        // A ping behind the first fragment makes it go out (and be shown) before the rest would have.
        d.From.Feed(Frames.Concat(Frames.Text("{\"id\":1,", masked: true, fin: false), Frames.Build(FrameOpcode.Ping, [], masked: true)));
        await WaitUntil(() => tap.Begins.Count == 1);
        d.From.End();

        Assert.Equal(RelayEnd.SourceFailed, (await run.WaitAsync(Patience)).End);
        Assert.Equal(1, tap.Abandons);
    }

    [Fact]
    public async Task AnUnmaskedClientFrameEndsTheClientWithTheReason()
    {
        var d = new Direction(fromClient: true);
        var run = d.Run();
        d.From.Feed(Frames.Concat(Frames.Text("ok", masked: true), Frames.Text("bad", masked: false)));

        var outcome = await run.WaitAsync(Patience);

        Assert.Equal(RelayEnd.SourceViolation, outcome.End);
        Assert.Equal("client frames must be masked", outcome.CloseDescription);
        Assert.Equal(Frames.Text("ok", masked: true), d.To.Written); // what came before still went through
        Assert.Equal(WebSocketState.Open, d.Source.State); // so it can still be told
    }

    [Fact]
    public async Task AMaskedUpstreamFrameFailsTheUpstream()
    {
        var d = new Direction(fromClient: false);
        var run = d.Run();
        d.From.Feed(Frames.Text("x", masked: true));

        Assert.Equal(RelayEnd.SourceViolation, (await run.WaitAsync(Patience)).End);
        Assert.Empty(d.To.Written);
    }

    public static TheoryData<string, byte[]> Violations => new()
    {
        { "RSV1 (no extension negotiated)", Frames.Build(FrameOpcode.Text, [0x41], masked: true, rsv: 4) },
        { "RSV3", Frames.Build(FrameOpcode.Binary, [0x41], masked: true, rsv: 1) },
        { "unknown opcode 3", Frames.Build((FrameOpcode)3, [0x41], masked: true) },
        { "unknown control opcode 0xB", Frames.Build((FrameOpcode)0xB, [], masked: true) },
        { "continuation outside a message", Frames.Build(FrameOpcode.Continuation, [0x41], masked: true) },
        { "new message inside a message", Frames.Concat(Frames.Text("a", true, fin: false), Frames.Text("b", true)) },
        { "fragmented ping", Frames.Build(FrameOpcode.Ping, [1], masked: true, fin: false) },
        { "ping over 125 bytes", Frames.Build(FrameOpcode.Ping, new byte[126], masked: true) },
        { "close with a one-byte payload", Frames.Build(FrameOpcode.Close, [3], masked: true) },
        { "close with reserved code 1005", Frames.Close(1005, "", masked: true) },
        { "close with a reason that is not UTF-8", Frames.Build(FrameOpcode.Close, [0x03, 0xE8, 0xC3, 0x28], masked: true) },
        { "64-bit length with its top bit set", Frames.Concat([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0], Frames.Key) },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task ProtocolViolationsEndTheSourceWithAReason(string what, byte[] stream)
    {
        var d = new Direction(fromClient: true);
        var run = d.Run();
        d.From.Feed(stream);

        var outcome = await run.WaitAsync(Patience);

        Assert.True(outcome.End == RelayEnd.SourceViolation, what);
        Assert.False(string.IsNullOrEmpty(outcome.CloseDescription), what);
    }

    [Fact]
    public async Task AMessageOverTheLimitIsJudgedFromItsHeaderBeforeItsPayloadArrives()
    {
        var d = new Direction(fromClient: true);
        var run = d.Run(maxMessageBytes: 1000);
        d.From.Feed(Frames.Text("small", masked: true));
        d.From.Feed(Frames.HeaderOnly(FrameOpcode.Binary, 1001, masked: true));

        var outcome = await run.WaitAsync(Patience);

        Assert.Equal(RelayEnd.SourceOversize, outcome.End);
        Assert.Equal(1001, outcome.MessageBytes); // for the client's close text: "message too large: 1001 > 1000"
        Assert.Equal(Frames.Text("small", masked: true), d.To.Written);
        Assert.Equal(1, d.Counters.Messages);
    }

    [Fact]
    public async Task FragmentsAddUpTowardsTheLimit()
    {
        var d = new Direction(fromClient: false);
        var run = d.Run(maxMessageBytes: 100);
        var first = Frames.Build(FrameOpcode.Binary, new byte[60], masked: false, fin: false);
        d.From.Feed(first);
        d.From.Feed(Frames.Build(FrameOpcode.Continuation, new byte[41], masked: false));

        Assert.Equal(RelayEnd.SourceOversize, (await run.WaitAsync(Patience)).End);
        Assert.Equal(first, d.To.Written);
    }

    [Fact]
    public async Task AMessageExactlyAtTheLimitPasses()
    {
        var d = new Direction(fromClient: true);
        var run = d.Run(maxMessageBytes: 100);
        var frame = Frames.Build(FrameOpcode.Binary, new byte[100], masked: true);
        d.From.Feed(frame, Frames.Close(1000, "", true));

        Assert.Equal(RelayEnd.SourceClosed, (await run.WaitAsync(Patience)).End);
        Assert.Equal(frame, d.To.Written);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ACloseFrameEndsTheDirectionWithItsCodeAndReasonAndIsNotForwarded(bool fromClient)
    {
        var d = new Direction(fromClient);
        var run = d.Run();
        var message = Frames.Text("last", masked: fromClient);
        // The message and the close in one read, the close cut in its payload.
        var close = Frames.Close(4001, "bye \u00e9", masked: fromClient);
        d.From.FeedCut(Frames.Concat(message, close), message.Length + close.Length - 2);

        var outcome = await run.WaitAsync(Patience);

        Assert.Equal(new RelayOutcome(RelayEnd.SourceClosed, (WebSocketCloseStatus)4001, "bye \u00e9"), outcome);
        Assert.Equal(message, d.To.Written);
        Assert.Equal(WebSocketState.CloseReceived, d.Source.State);
    }

    [Fact]
    public async Task AnEmptyCloseReadsAsANormalClosure()
    {
        var d = new Direction(fromClient: true);
        var run = d.Run();
        d.From.Feed(Frames.Build(FrameOpcode.Close, [], masked: true));

        Assert.Equal(new RelayOutcome(RelayEnd.SourceClosed, WebSocketCloseStatus.NormalClosure, ""), await run.WaitAsync(Patience));
    }

    [Fact]
    public async Task PingsAndPongsPassThroughUncounted()
    {
        var d = new Direction(fromClient: false);
        var run = d.Run();
        var controls = Frames.Concat(Frames.Build(FrameOpcode.Ping, [9], masked: false), Frames.Build(FrameOpcode.Pong, [8], masked: false));
        d.From.Feed(controls, Frames.Close(1000, "", false));

        await run.WaitAsync(Patience);

        Assert.Equal(controls, d.To.Written);
        Assert.Equal(0, d.Counters.Messages);
        Assert.Equal(0, d.Counters.Bytes);
    }

    [Fact]
    public async Task BetweenMessagesItWaitsWithAZeroByteRead()
    {
        var d = new Direction(fromClient: true);
        var run = d.Run();
        d.From.Feed(Frames.Text("one", true));
        await WaitUntil(() => d.To.Writes.Count == 1);
        await WaitUntil(() => d.From.ReadSizes.Count == 3);

        // Waiting for the next message: a zero-byte read, so no buffer is held.
        Assert.Equal([0, WebSocketFrameRelay.ChunkBytes, 0], d.From.ReadSizes);
        d.From.Feed(Frames.Close(1000, "", true));
        await run.WaitAsync(Patience);
    }

    [Fact]
    public async Task ALargeMessageMovesToTheLargeChunk()
    {
        var payload = new byte[3 * WebSocketFrameRelay.LargeChunkBytes];
        new Random(3).NextBytes(payload);
        var frame = Frames.Build(FrameOpcode.Binary, payload, masked: false);
        var d = new Direction(fromClient: false);
        var run = d.Run();
        d.From.FeedCut(frame, Enumerable.Range(1, frame.Length / 8192).Select(i => i * 8192).ToArray());
        d.From.Feed(Frames.Close(1000, "", false));

        await run.WaitAsync(Patience);

        Assert.Equal(frame, d.To.Written);
        Assert.Contains(d.From.ReadSizes, size => size > WebSocketFrameRelay.ChunkBytes);
        // Filled chunks, not one write per read.
        Assert.True(d.To.Writes.Count < frame.Length / 8192 / 4, $"{d.To.Writes.Count} writes");
    }

    [Fact]
    public async Task BytesReadPastTheHandshakeComeFirst()
    {
        var early = Frames.Text("early", masked: false);
        var d = new Direction(fromClient: false, alreadyRead: early);
        var run = d.Run();
        d.From.Feed(Frames.Text("late", masked: false), Frames.Close(1000, "", false));

        await run.WaitAsync(Patience);

        Assert.Equal(Frames.Concat(early, Frames.Text("late", masked: false)), d.To.Written);
    }

    [Fact]
    public async Task AFailedWriteEndsWithDestinationFailedAndLeavesTheCountsSettled()
    {
        var d = new Direction(fromClient: true);
        d.To.FailWrites = true;
        var run = d.Run();
        d.From.Feed(Frames.Text("x", true));

        var outcome = await run.WaitAsync(Patience);
        Assert.Equal(RelayEnd.DestinationFailed, outcome.End);
        // Kept for the handler's debug line, which explains the end afterwards.
        Assert.Equal("the peer went away", Assert.IsType<IOException>(outcome.Error).Message);
        await d.Counters.WaitUntilSettledAsync().WaitAsync(Patience);
        Assert.Equal(0, d.Counters.Messages);
        Assert.Equal(WebSocketState.Aborted, d.Destination.State);
    }

    [Fact]
    public async Task TheEndOfTheStreamWithoutACloseIsAFailure()
    {
        var d = new Direction(fromClient: true);
        var run = d.Run();
        d.From.Feed(Frames.Text("x", true));
        d.From.End();

        Assert.Equal(RelayEnd.SourceFailed, (await run.WaitAsync(Patience)).End);
        Assert.Equal(1, d.Counters.Messages);
    }

    [Fact]
    public async Task AfterAnOversizeMessageTheDrainSkipsItsRestAndFindsTheClose()
    {
        var d = new Direction(fromClient: true);
        var run = d.Run(maxMessageBytes: 10);
        var big = Frames.Build(FrameOpcode.Binary, new byte[5000], masked: true);
        d.From.FeedCut(big, 100, 3000);
        Assert.Equal(RelayEnd.SourceOversize, (await run.WaitAsync(Patience)).End);
        Assert.True(await d.Source.SendCloseAsync(WebSocketCloseStatus.MessageTooBig, "message too big", CancellationToken.None));
        Assert.Equal(WebSocketState.CloseSent, d.Source.State);

        // The rest of the message, with something that looks like a close frame inside its payload.
        d.From.Feed(Frames.Build(FrameOpcode.Binary, Frames.Close(1000, "", true), masked: true), Frames.Close(1000, "", masked: true));
        using var timeout = new CancellationTokenSource(Patience);
        await d.Source.DrainUntilCloseAsync(timeout.Token);

        Assert.Equal(WebSocketState.Closed, d.Source.State);
        Assert.Equal(Frames.Close(1009, "message too big", masked: false), d.From.Written); // our close frame, unmasked
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(5);
        }
    }
}
