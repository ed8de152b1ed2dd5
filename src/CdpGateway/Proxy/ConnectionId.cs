namespace CdpGateway.Proxy;

/// <summary>
/// Connection ids: 16 lowercase hex characters, random, so unique for a process's life (two alike among a million
/// connections: odds of about 3 in 100 million). They name connections in telemetry and grant nothing, so the runtime's
/// fast generator serves: the cryptographic one costs a call into OpenSSL (and a getpid) per connection.
/// </summary>
public static class ConnectionId
{
    public static string New()
    {
        Span<byte> bytes = stackalloc byte[8];
        Random.Shared.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>Whether <paramref name="text"/> has the form <see cref="New"/> gives: 16 lowercase hex characters.</summary>
    public static bool IsWellFormed(string? text)
    {
        if (text is not { Length: 16 })
        {
            return false;
        }
        foreach (char c in text)
        {
            if (!char.IsAsciiHexDigitLower(c))
            {
                return false;
            }
        }
        return true;
    }
}
