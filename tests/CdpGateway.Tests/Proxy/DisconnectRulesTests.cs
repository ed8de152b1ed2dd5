using System.Net.WebSockets;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;

namespace CdpGateway.Tests.Proxy;

/// <summary>Browser URLs the rule tables compare: the dialled browser, its successor, none known.</summary>
internal static class Urls
{
    public const string A = "ws://127.0.0.1:9222/devtools/browser/a";
    public const string B = "ws://127.0.0.1:9222/devtools/browser/b";
    public const string None = "";
}

/// <summary><see cref="DisconnectRules.Reason"/>: docs/disconnect-contract.md's reason table spelled out, one case per end and outcome.</summary>
public sealed class DisconnectReasonRuleTests
{
    [Theory]
    // The client leaving while dialling cancels the dial itself: still the client's end.
    [InlineData(ConnectionEnd.ClientLeftWhileDialing, null, true, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ClientClose)]
    [InlineData(ConnectionEnd.ClientLeftWhileDialing, null, false, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ClientClose)]
    // Cancellation wins over everything else.
    [InlineData(ConnectionEnd.GatewayStopping, null, false, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    // The gateway ended an idle connection: neither side did.
    [InlineData(ConnectionEnd.IdleTimeout, null, false, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    [InlineData(ConnectionEnd.IdleTimeout, null, false, Urls.B, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    // An operator closed it (DELETE /connections/{id}): the gateway cancelled it, whatever the browser did meanwhile.
    [InlineData(ConnectionEnd.ClosedByOperator, null, false, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    [InlineData(ConnectionEnd.ClosedByOperator, null, false, Urls.B, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceClosed, true, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    [InlineData(ConnectionEnd.BrowserMoved, null, true, Urls.B, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, true, Urls.A, Urls.A, ConfirmWait.NewUrl, DisconnectReason.ContextCancelled)]
    [InlineData(ConnectionEnd.DialFailed, null, true, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    [InlineData(ConnectionEnd.GatewayFault, null, true, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    // No browser leg, or a fault of ours.
    [InlineData(ConnectionEnd.DialFailed, null, false, Urls.B, Urls.A, ConfirmWait.NotWaited, DisconnectReason.UpstreamError)]
    [InlineData(ConnectionEnd.GatewayFault, null, false, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.UpstreamError)]
    // The watch saw the browser replaced.
    [InlineData(ConnectionEnd.BrowserMoved, null, false, Urls.B, Urls.A, ConfirmWait.NotWaited, DisconnectReason.UpstreamChanged)]
    // The client's side ended it.
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceClosed, false, Urls.B, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ClientClose)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceFailed, false, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ClientClose)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceViolation, false, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ClientClose)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceOversize, false, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ClientClose)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.DestinationFailed, false, Urls.A, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ClientClose)]
    // The browser's side ended it: undecided until the confirm wait, unless the tracker already names another browser.
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, false, Urls.A, Urls.A, ConfirmWait.NotWaited, null)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.DestinationFailed, false, Urls.A, Urls.A, ConfirmWait.NotWaited, null)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, false, Urls.None, Urls.A, ConfirmWait.NotWaited, null)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, false, Urls.B, Urls.A, ConfirmWait.NotWaited, DisconnectReason.UpstreamChanged)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceClosed, false, Urls.B, Urls.A, ConfirmWait.NotWaited, DisconnectReason.UpstreamChanged)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceOversize, false, Urls.B, Urls.A, ConfirmWait.NotWaited, DisconnectReason.UpstreamChanged)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, false, Urls.A, Urls.A, ConfirmWait.NewUrl, DisconnectReason.UpstreamChanged)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, false, Urls.B, Urls.A, ConfirmWait.NoNewUrl, DisconnectReason.UpstreamChanged)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, false, Urls.A, Urls.A, ConfirmWait.NoNewUrl, DisconnectReason.UpstreamError)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceClosed, false, Urls.A, Urls.A, ConfirmWait.NoNewUrl, DisconnectReason.UpstreamError)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceViolation, false, Urls.A, Urls.A, ConfirmWait.NoNewUrl, DisconnectReason.UpstreamError)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.DestinationFailed, false, Urls.A, Urls.A, ConfirmWait.NoNewUrl, DisconnectReason.UpstreamError)]
    // No URL known at all is not a change.
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, false, Urls.None, Urls.A, ConfirmWait.NoNewUrl, DisconnectReason.UpstreamError)]
    public void Row(ConnectionEnd end, RelayEnd? outcome, bool cancelled, string tracked, string dialled, ConfirmWait confirm, DisconnectReason? expected)
    {
        Assert.Equal(expected, DisconnectRules.Reason(new ReasonFacts(end, outcome, cancelled, tracked, dialled, confirm)));
    }

    [Theory]
    // The gateway was replacing this very browser when its client was closed (told 1012): a replacement, decided at
    // once, whatever the confirm wait would see.
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, Urls.A, ConfirmWait.NotWaited, DisconnectReason.UpstreamChanged)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceClosed, Urls.A, ConfirmWait.NoNewUrl, DisconnectReason.UpstreamChanged)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.DestinationFailed, Urls.A, ConfirmWait.NotWaited, DisconnectReason.UpstreamChanged)]
    // Another browser being replaced says nothing about this one.
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, Urls.B, ConfirmWait.NotWaited, null)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, Urls.B, ConfirmWait.NoNewUrl, DisconnectReason.UpstreamError)]
    // The client's own end and cancellation still come first.
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceClosed, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ClientClose)]
    [InlineData(ConnectionEnd.GatewayStopping, null, Urls.A, ConfirmWait.NotWaited, DisconnectReason.ContextCancelled)]
    public void ReplacedBrowserRow(ConnectionEnd end, RelayEnd? outcome, string replaced, ConfirmWait confirm, DisconnectReason? expected)
    {
        Assert.Equal(expected, DisconnectRules.Reason(new ReasonFacts(end, outcome, false, Urls.A, Urls.A, confirm, replaced)));
    }

    [Fact]
    public void OnlyAnOperatorsCloseSaysWhoCancelledIt()
    {
        Assert.Equal("operator", DisconnectRules.CancelledBy(ConnectionEnd.ClosedByOperator, DisconnectReason.ContextCancelled));
        foreach (var end in Enum.GetValues<ConnectionEnd>().Where(e => e != ConnectionEnd.ClosedByOperator))
        {
            Assert.Null(DisconnectRules.CancelledBy(end, DisconnectReason.ContextCancelled));
        }
    }
}

/// <summary><see cref="DisconnectRules.CloseFor"/>: docs/disconnect-contract.md's close-frame table spelled out, one case per situation.</summary>
public sealed class ClientCloseRuleTests
{
    private const long Limit = 1024;

    [Theory]
    // A fault of ours, a client that is gone: no close frame.
    [InlineData(ConnectionEnd.GatewayFault, null, null, null, false, false, Urls.A, null, null, null)]
    [InlineData(ConnectionEnd.ClientLeftWhileDialing, RelayEnd.SourceFailed, null, null, false, true, Urls.A, null, null, null)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceFailed, null, null, false, false, Urls.A, null, null, null)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.DestinationFailed, null, null, false, false, Urls.B, Urls.A, null, null)]
    // The client closed: its handshake is completed with its own code.
    [InlineData(ConnectionEnd.ClientLeftWhileDialing, RelayEnd.SourceClosed, 4000, "bye", false, true, Urls.A, null, 4000, "bye")]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceClosed, 1000, "done", true, false, Urls.B, Urls.A, 1000, "done")]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceClosed, null, null, false, false, Urls.A, null, 1000, "")]
    // The client broke the rules.
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceViolation, null, "client frames must be masked", false, false, Urls.A, null, 1002,
        "protocol error: client frames must be masked")]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceOversize, null, null, false, false, Urls.A, null, 1009, "message too large: 2048 > 1024")]
    // The same before the browser was reached.
    [InlineData(ConnectionEnd.ClientLeftWhileDialing, RelayEnd.SourceViolation, null, "client frames must be masked", false, false, Urls.A, null, 1002,
        "protocol error: client frames must be masked")]
    [InlineData(ConnectionEnd.ClientLeftWhileDialing, RelayEnd.SourceOversize, null, null, false, false, Urls.A, null, 1009, "message too large: 2048 > 1024")]
    // The gateway ended an idle connection.
    [InlineData(ConnectionEnd.IdleTimeout, null, null, null, false, false, Urls.A, null, 1001, "idle timeout")]
    [InlineData(ConnectionEnd.IdleTimeout, null, null, null, false, false, Urls.B, Urls.A, 1001, "idle timeout")]
    // An operator closed it, relaying or dialling.
    [InlineData(ConnectionEnd.ClosedByOperator, null, null, null, false, false, Urls.A, null, 1008, "closed by operator")]
    [InlineData(ConnectionEnd.ClosedByOperator, null, null, null, false, true, Urls.A, null, 1008, "closed by operator")]
    // The gateway is stopping.
    [InlineData(ConnectionEnd.GatewayStopping, null, null, null, true, false, Urls.A, null, 1001, "gateway shutting down")]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, null, null, true, false, Urls.B, Urls.A, 1001, "gateway shutting down")]
    [InlineData(ConnectionEnd.DialFailed, null, null, null, true, true, Urls.A, null, 1001, "gateway shutting down")]
    // The dial did not reach a browser.
    [InlineData(ConnectionEnd.DialFailed, null, null, null, false, true, Urls.A, null, 1001, "request cancelled")]
    [InlineData(ConnectionEnd.DialFailed, null, null, null, false, false, Urls.B, Urls.A, 1011, "browser unreachable")]
    // The browser is known to be replaced: the tracker names another, or its owner set out to replace this very one.
    [InlineData(ConnectionEnd.BrowserMoved, null, null, null, false, false, Urls.B, null, 1012, "browser restarted")]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, null, null, false, false, Urls.B, null, 1012, "browser restarted")]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, null, null, false, false, Urls.A, Urls.A, 1012, "browser restarted")]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.DestinationFailed, null, null, false, false, Urls.A, Urls.A, 1012, "browser restarted")]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceOversize, null, null, false, false, Urls.B, null, 1012, "browser restarted")]
    // Otherwise the browser connection was lost: said so, whatever the reason turns out to be.
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, null, null, false, false, Urls.A, null, 1011, "browser connection lost")]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, null, null, false, false, Urls.None, null, 1011, "browser connection lost")]
    // A restart of some other browser (this connection dialled the new one) is no restart of this one's.
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceFailed, null, null, false, false, Urls.A, Urls.B, 1011, "browser connection lost")]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceClosed, 1001, "", false, false, Urls.A, null, 1011, "browser connection lost")]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.DestinationFailed, null, null, false, false, Urls.A, null, 1011, "browser connection lost")]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceOversize, null, null, false, false, Urls.A, null, 1009, "message too large: 2048 > 1024")]
    public void Row(ConnectionEnd end, RelayEnd? relayEnd, int? status, string? description, bool stopping, bool cancelled, string tracked,
        string? replaced, int? expectedCode, string? expectedText)
    {
        RelayOutcome? outcome = relayEnd is { } e
            ? new RelayOutcome(e, (WebSocketCloseStatus?)status, description) { MessageBytes = e == RelayEnd.SourceOversize ? 2048 : 0 }
            : null;
        var facts = new CloseFacts(end, outcome, stopping, cancelled, tracked, Urls.A, replaced, Limit);

        var close = DisconnectRules.CloseFor(facts);

        Assert.Equal(expectedCode, (int?)close?.Status);
        Assert.Equal(expectedText, close?.Text);
    }

    [Theory]
    [InlineData("upstream_error")]
    [InlineData("upstream_changed")]
    [InlineData("client_close")]
    [InlineData("context_cancelled")]
    public void NoCloseTextNamesAReason(string reason)
    {
        foreach (var text in new[] { CloseCodes.BrowserRestartedText, CloseCodes.ConnectionLostText, CloseCodes.BrowserUnreachableText,
            CloseCodes.ShuttingDownText, CloseCodes.RequestCancelledText, CloseCodes.TooLargeText, CloseCodes.ProtocolErrorText, CloseCodes.IdleTimeoutText,
            CloseCodes.ClosedByOperatorText })
        {
            Assert.DoesNotContain(reason, text);
        }
    }
}

/// <summary><see cref="DisconnectRules.CloseCode"/>: what <c>close_code</c> reports, one case per row.</summary>
public sealed class CloseCodeRuleTests
{
    [Theory]
    // The client closed first: its own code, whatever became of our answer.
    [InlineData(1000, 1000, false, false, 1000)]
    [InlineData(4001, null, false, null, 4001)]
    // Ours was written and the client answered it.
    [InlineData(null, 1011, true, null, 1011)]
    [InlineData(null, 1012, true, false, 1012)]
    // Ours was written and its peer's kernel acknowledged every byte.
    [InlineData(null, 1001, false, true, 1001)]
    // Ours was written but still queued when the socket was let go (a slow reader), or that cannot be told.
    [InlineData(null, 1011, false, false, null)]
    [InlineData(null, 1011, false, null, null)]
    // Ours was never written.
    [InlineData(null, null, false, true, null)]
    [InlineData(null, null, false, null, null)]
    public void Row(int? clientsOwn, int? sent, bool replied, bool? sendQueueEmpty, int? expected)
    {
        Assert.Equal(expected, DisconnectRules.CloseCode(clientsOwn, sent, replied, sendQueueEmpty));
    }

    [Theory]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceClosed, 4000, 4000)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceClosed, null, 1000)]
    [InlineData(ConnectionEnd.ClientLeftWhileDialing, RelayEnd.SourceClosed, 1001, 1001)]
    [InlineData(ConnectionEnd.ClientLeftWhileDialing, RelayEnd.SourceFailed, null, null)]
    [InlineData(ConnectionEnd.ClientToUpstream, RelayEnd.SourceFailed, null, null)]
    [InlineData(ConnectionEnd.UpstreamToClient, RelayEnd.SourceClosed, 1000, null)]
    public void TheClientsOwnCodeIsTheOneItClosedWithFirst(ConnectionEnd end, RelayEnd relayEnd, int? status, int? expected)
    {
        Assert.Equal(expected, DisconnectRules.ClientsOwnCode(end, new RelayOutcome(relayEnd, (WebSocketCloseStatus?)status)));
    }
}
