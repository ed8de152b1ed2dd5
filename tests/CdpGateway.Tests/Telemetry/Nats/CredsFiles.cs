using System.Buffers.Text;
using System.Text;
using NATS.NKeys;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>Writes <c>.creds</c> files in the standard layout (the user JWT, then the user's NKey seed) for tests.</summary>
internal static class CredsFiles
{
    /// <summary>
    /// A creds file for <paramref name="user"/>. A server with NKey users (no operator) never reads the JWT, only the
    /// public key and the signed nonce, so the JWT here is a placeholder that merely looks like one (three base64url
    /// parts naming the user as subject), not one an account signed.
    /// </summary>
    public static string Write(string directory, KeyPair user)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "user-" + Guid.NewGuid().ToString("N") + ".creds");
        File.WriteAllText(path, Text(PlaceholderJwt(user.GetPublicKey()), user.GetSeed()));
        return path;
    }

    public static string Text(string jwt, string seed) =>
        "-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n\n"
        + "************************* IMPORTANT *************************\n"
        + "NKEY Seed printed below can be used to sign and prove identity.\n"
        + "NKEYs are sensitive and should be treated as secrets.\n\n"
        + "-----BEGIN USER NKEY SEED-----\n" + seed + "\n------END USER NKEY SEED------\n\n"
        + "*************************************************************\n";

    public static string PlaceholderJwt(string publicKey) =>
        Part(JwtHeader) + "." + Part("{\"sub\":\"" + publicKey + "\",\"nats\":{\"type\":\"user\"}}") + "."
        + Part("placeholder signature");

    /// <summary>The header of every NATS JWT: signed with an NKey (ed25519).</summary>
    public const string JwtHeader = "{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}";

    /// <summary>One part of a JWT: the UTF-8 of <paramref name="text"/> in base64url.</summary>
    public static string Part(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
}
