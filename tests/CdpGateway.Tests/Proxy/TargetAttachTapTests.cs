using System.Text;
using CdpGateway.Proxy;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>
/// The browser-to-client tap of the live view: which target each of a client's flattened sessions drives, learnt from
/// the attach and detach events Chromium sends it (their shapes below are copied from Debian's Chromium), everything
/// else turned away by its first bytes, and a bounded map whatever the peer sends.
/// </summary>
public sealed class TargetAttachTapTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private const string PageAttached =
        """{"method":"Target.attachedToTarget","params":{"sessionId":"C483915A82F599F1EC8D7CCBC519742D","targetInfo":{"targetId":"D7D509AC4FD4D82BF7AC21495D8432DD","type":"page","title":"about:blank","url":"about:blank","attached":true,"canAccessOpener":false,"browserContextId":"1182A35493D4DA075E10FDFF9AF2F8C3"},"waitingForDebugger":false}}""";

    // Auto-attached from a page's session: the outer sessionId (the parent's) comes last.
    private const string WorkerAttached =
        """{"method":"Target.attachedToTarget","params":{"sessionId":"07352275EFBB4AFB9A218F274822F08F","targetInfo":{"targetId":"E83217BF54B045CAA458850A99685E5E","type":"worker","title":"blob:null/89c9","url":"blob:null/89c9","attached":true,"browserContextId":"45DB15EBA794C478E8ABB91040263A13"},"waitingForDebugger":false},"sessionId":"C483915A82F599F1EC8D7CCBC519742D"}""";

    private const string PageDetached =
        """{"method":"Target.detachedFromTarget","params":{"sessionId":"C483915A82F599F1EC8D7CCBC519742D","targetId":"D7D509AC4FD4D82BF7AC21495D8432DD"}}""";

    // Chromium detaches a page's child sessions, each with its parent's sessionId outside, before the page's own.
    private const string WorkerDetached =
        """{"method":"Target.detachedFromTarget","params":{"sessionId":"07352275EFBB4AFB9A218F274822F08F","targetId":"E83217BF54B045CAA458850A99685E5E"},"sessionId":"C483915A82F599F1EC8D7CCBC519742D"}""";

    private static (TargetAttachTap Tap, AttachedSessions Sessions) NewTap()
    {
        var sessions = new AttachedSessions();
        return (new TargetAttachTap(sessions), sessions);
    }

    private static string AttachedEvent(string sessionId, string targetId) =>
        "{\"method\":\"Target.attachedToTarget\",\"params\":{\"sessionId\":\"" + sessionId + "\",\"targetInfo\":{\"targetId\":\"" + targetId + "\"}}}";

    /// <summary>Shows the tap one message cut into pieces at <paramref name="cuts"/>, as the relay would; returns whether it was accepted.</summary>
    private static bool Show(TargetAttachTap tap, string message, params int[] cuts)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var bounds = cuts.Prepend(0).Append(bytes.Length).ToArray();
        if (!tap.Begin(bytes.AsSpan(0, bounds[1]), bounds.Length == 2))
        {
            return false;
        }
        for (var i = 1; i < bounds.Length - 1; i++)
        {
            tap.Append(bytes.AsSpan(bounds[i], bounds[i + 1] - bounds[i]));
        }
        tap.Forwarded(0);
        return true;
    }

    [Fact]
    public void ChromiumsAttachEventsMapTheirSessionsToTheirTargets_AndTheDetachUnmapsOnlyThatSession()
    {
        var (tap, sessions) = NewTap();

        Assert.True(Show(tap, PageAttached));
        Assert.True(Show(tap, WorkerAttached));

        Assert.Equal("D7D509AC4FD4D82BF7AC21495D8432DD", sessions.TargetOf("C483915A82F599F1EC8D7CCBC519742D"));
        Assert.Equal("E83217BF54B045CAA458850A99685E5E", sessions.TargetOf("07352275EFBB4AFB9A218F274822F08F"));
        Assert.Null(sessions.TargetOf("UNKNOWN"));

        Assert.True(Show(tap, PageDetached));
        Assert.Null(sessions.TargetOf("C483915A82F599F1EC8D7CCBC519742D"));
        Assert.Equal("E83217BF54B045CAA458850A99685E5E", sessions.TargetOf("07352275EFBB4AFB9A218F274822F08F"));
        Assert.Equal(1, sessions.Count);

        Assert.True(Show(tap, WorkerDetached));
        Assert.Equal(0, sessions.Count);
    }

    [Fact]
    public void AnEventCutIntoPiecesAtAnyByteIsMappedAsWhole()
    {
        var length = Encoding.UTF8.GetByteCount(PageAttached);
        for (var first = 1; first < length; first++)
        {
            var (tap, sessions) = NewTap();
            // The first piece ends anywhere (in the method's name too); the rest comes in two.
            var second = Math.Min(length - 1, first + 7);
            var cuts = second > first ? new[] { first, second } : [first];
            Assert.True(Show(tap, PageAttached, cuts), $"turned away when cut at {first}");
            Assert.Equal("D7D509AC4FD4D82BF7AC21495D8432DD", sessions.TargetOf("C483915A82F599F1EC8D7CCBC519742D"));
        }
    }

    [Theory]
    [InlineData("""{"params":{"targetInfo":{"type":"page","targetId":"T1"},"sessionId":"S1"},"method":"Target.attachedToTarget"}""")]
    [InlineData("""{"sessionId":"PARENT","method":"Target.attachedToTarget","params":{"waitingForDebugger":false,"targetInfo":{"targetId":"T1"},"sessionId":"S1"}}""")]
    [InlineData("""{ "method" : "Target.attachedToTarget", "params" : { "sessionId" : "S1", "targetInfo" : { "targetId" : "T1" } } }""")]
    public void KeysInAnotherOrderOrSpacedOut_AreMappedAllTheSame(string message)
    {
        var (tap, sessions) = NewTap();

        Assert.True(Show(tap, message));

        Assert.Equal("T1", sessions.TargetOf("S1"));
        Assert.Equal(1, sessions.Count);
    }

    [Theory]
    [InlineData("""{"id":7,"result":{"sessionId":"9A18A2D4F1E02E16BAA3044FE9BD4328"}}""")]
    [InlineData("""{"id":8,"result":{},"sessionId":"C483915A82F599F1EC8D7CCBC519742D"}""")]
    [InlineData("""{"method":"Page.frameNavigated","params":{"frame":{"id":"F"}},"sessionId":"S"}""")]
    [InlineData("""{"method":"Target.targetCreated","params":{"targetInfo":{"targetId":"T","type":"page"}}}""")]
    [InlineData("""{"method":"Target.attachedToTargetLater","params":{"sessionId":"S","targetInfo":{"targetId":"T"}}}""")]
    [InlineData("""{"method":"Runtime.consoleAPICalled","params":{"args":[{"value":"Target.attachedToTarget"}]}}""")]
    [InlineData("")]
    public void EveryOtherMessageIsTurnedAwayByItsFirstBytes(string message)
    {
        var (tap, sessions) = NewTap();

        Assert.False(Show(tap, message));
        Assert.Equal(0, sessions.Count);
    }

    [Fact]
    public void ATargetWithAHugeUrl_IsMappedFromTheFirstBytesAlone()
    {
        var (tap, sessions) = NewTap();
        var url = "data:text/html," + new string('x', 1 << 20);
        var message = PageAttached.Replace("\"title\":\"about:blank\",\"url\":\"about:blank\"", $"\"title\":\"{url}\",\"url\":\"{url}\"");

        Assert.True(Show(tap, message, 1000, 5000, 700_000));

        Assert.Equal("D7D509AC4FD4D82BF7AC21495D8432DD", sessions.TargetOf("C483915A82F599F1EC8D7CCBC519742D"));
    }

    [Theory]
    [InlineData("""{"method":"Target.attachedToTarget","params":{"sessionId":"S1","targetInfo":{"targetId":""" + "\u0001\u0002garbage")]
    [InlineData("""{"method":"Target.attachedToTarget",""")]
    [InlineData("""{"method":"Target.attachedToTarget","params":[1,2,3]}""")]
    [InlineData("""{"method":"Target.attachedToTarget","params":{"sessionId":{"nested":"S1"},"targetInfo":{"targetId":"T1"}}}""")]
    [InlineData("""{"method":"Target.attachedToTarget","params":{"sessionId":"S1","targetInfo":{"targetId":42}}}""")]
    [InlineData("""{"method":"Target.attachedToTarget","params":{"sessionId":"S\u0031","targetInfo":{"targetId":"T1"}}}""")]
    [InlineData("""{"method":"Target.attachedToTarget","params":{"sessionId":"","targetInfo":{"targetId":"T1"}}}""")]
    [InlineData("""{"method":"Target.detachedFromTarget","params":{"targetId":"T1"}}""")]
    [InlineData("""{"method":"Target.attachedToTarget"}}}}]]]""")]
    public void MalformedOrIncompleteEvents_MapNothingAndThrowNothing(string message)
    {
        var (tap, sessions) = NewTap();
        sessions.Attach("KEPT", "T0");

        Show(tap, message);
        Show(tap, message, Math.Max(1, message.Length / 2));

        Assert.Equal(1, sessions.Count);
        Assert.Equal("T0", sessions.TargetOf("KEPT"));
    }

    [Fact]
    public void IdsLongerThanChromiumsAreNotTaken()
    {
        var (tap, sessions) = NewTap();
        var longId = new string('A', TargetAttachMessage.MaxIdLength + 1);

        Show(tap, AttachedEvent(longId, "T1"));
        Show(tap, AttachedEvent("S1", longId));

        Assert.Equal(0, sessions.Count);
    }

    [Fact]
    public void AnEventThatWasNotForwardedInFull_IsNotMapped()
    {
        var (tap, sessions) = NewTap();
        var bytes = Encoding.UTF8.GetBytes(PageAttached);

        Assert.True(tap.Begin(bytes.AsSpan(0, 100), false));
        tap.Abandon();
        Assert.True(Show(tap, WorkerAttached));

        Assert.Null(sessions.TargetOf("C483915A82F599F1EC8D7CCBC519742D"));
        Assert.Equal(1, sessions.Count);
    }

    [Fact]
    public void TheMapHoldsAtMostItsCapacity_AndADetachMakesRoomAgain()
    {
        var (tap, sessions) = NewTap();
        for (var i = 0; i < AttachedSessions.Capacity + 10; i++)
        {
            Show(tap, AttachedEvent($"S{i}", $"T{i}"));
        }

        Assert.Equal(AttachedSessions.Capacity, sessions.Count);
        Assert.Equal(10, sessions.Refused);
        Assert.Equal("T0", sessions.TargetOf("S0"));
        Assert.Null(sessions.TargetOf($"S{AttachedSessions.Capacity}"));

        // A session already mapped may be announced again (its target stays current).
        Show(tap, """{"method":"Target.attachedToTarget","params":{"sessionId":"S0","targetInfo":{"targetId":"T0B"}}}""");
        Assert.Equal("T0B", sessions.TargetOf("S0"));
        Show(tap, """{"method":"Target.detachedFromTarget","params":{"sessionId":"S1"}}""");
        Show(tap, """{"method":"Target.attachedToTarget","params":{"sessionId":"LATE","targetInfo":{"targetId":"TL"}}}""");
        Assert.Equal("TL", sessions.TargetOf("LATE"));
        Assert.Equal(AttachedSessions.Capacity, sessions.Count);
    }

    [Fact]
    public async Task OnTheRelayFromChromium_TheEventsAreMappedOnceForwarded_AndTheBytesPassUnchanged()
    {
        var sessions = new AttachedSessions();
        var from = new ScriptedStream();
        var to = new ScriptedStream();
        var source = new WebSocketLeg(from, peerMasks: false);
        var destination = new WebSocketLeg(to, peerMasks: true);
        var stream = Frames.Concat(
            Frames.Text("""{"id":1,"result":{}}""", masked: false),
            Frames.Text(PageAttached, masked: false),
            Frames.Text(WorkerAttached, masked: false),
            Frames.Text(PageDetached, masked: false));
        var run = WebSocketFrameRelay.CopyAsync(source, destination, new RelayCounters(),
            new WebSocketFrameRelay.Options(1 << 20, TimeProvider.System, Tap: new TargetAttachTap(sessions)));

        // Cut inside the first event's method name and inside the second event's ids.
        from.FeedCut(stream, 40, 120, 400);
        from.Feed(Frames.Close(1000, "", false));
        await run.WaitAsync(Patience);

        Assert.Equal(stream, to.Written);
        Assert.Null(sessions.TargetOf("C483915A82F599F1EC8D7CCBC519742D"));
        Assert.Equal("E83217BF54B045CAA458850A99685E5E", sessions.TargetOf("07352275EFBB4AFB9A218F274822F08F"));
    }
}
