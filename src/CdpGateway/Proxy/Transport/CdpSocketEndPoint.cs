using System.Net;

namespace CdpGateway.Proxy.Transport;

/// <summary>
/// The CDP port's address as given to Kestrel: an ordinary IP endpoint whose type tells Kestrel to bind it with
/// <see cref="CdpSocketTransportFactory"/> rather than its own socket transport (the API port keeps that one).
/// </summary>
public sealed class CdpSocketEndPoint(IPAddress address, int port) : IPEndPoint(address, port);
