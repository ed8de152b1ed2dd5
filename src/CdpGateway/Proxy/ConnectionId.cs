using System.Security.Cryptography;

namespace CdpGateway.Proxy;

/// <summary>Connection ids: 16 lowercase hex characters, unpredictable and unique enough for a process's life.</summary>
public static class ConnectionId
{
    public static string New()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
