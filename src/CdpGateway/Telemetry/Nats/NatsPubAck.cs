using NATS.Client.JetStream.Models;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// JetStream's reply to one publish, as far as the sink needs it: stored (a duplicate, already stored, counts as
/// stored), an error (also "no responders": no stream takes the subject), or neither (a reply that is not JetStream's).
/// <paramref name="Id"/> is the number the publish's reply subject ended with.
/// </summary>
public readonly record struct NatsPubAck(long Id, bool Stored, bool Duplicate, ApiError? Error)
{
    /// <summary>What a server that enabled "no responders" sends in place of an ack when nothing took the subject.</summary>
    public static NatsPubAck NoResponders(long id) => new(id, false, false, new ApiError { Code = 503, Description = "no responders: no stream takes the subject" });
}
