using System.Globalization;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// How the NATS sink names things: the subject of an envelope (<c>PREFIX.INSTANCE.CATEGORY.TYPE</c>), its
/// <c>Nats-Msg-Id</c> (<c>INSTANCE:BOOT:SEQ</c>, one event across a fleet and across restarts, which is what lets
/// JetStream drop a resent copy), and which prefixes and stream names are acceptable.
/// </summary>
public static class NatsNaming
{
    /// <summary>The subject one envelope is published on.</summary>
    public static string Subject(string prefix, string instance, string category, string type) =>
        string.Concat(prefix, ".", instance, ".", category, ".", type);

    /// <summary>The wildcard that covers every subject of <paramref name="prefix"/>: what the stream is created for.</summary>
    public static string StreamSubjects(string prefix) => prefix + ".>";

    /// <summary>The message id JetStream de-duplicates on.</summary>
    public static string MsgId(string instance, string bootId, long seq) => MsgId(MsgIdPrefix(instance, bootId), seq);

    /// <summary>What every message id of one boot starts with: <c>INSTANCE:BOOT:</c>.</summary>
    public static string MsgIdPrefix(string instance, string bootId) => string.Concat(instance, ":", bootId, ":");

    /// <summary>The message id of event <paramref name="seq"/>, in one allocation (one is made per event shipped).</summary>
    public static string MsgId(string prefix, long seq) =>
        string.Create(CultureInfo.InvariantCulture, stackalloc char[64], $"{prefix}{seq}");

    /// <summary>What a subject prefix may hold, for error messages.</summary>
    public const string PrefixRule = "dot-separated tokens of A-Z, a-z, 0-9, '-' and '_', no wildcards, at most 128 characters";

    /// <summary>
    /// One or more dot-separated tokens, each non-empty and without wildcards, white space or anything that would need
    /// escaping somewhere (a subject, a permission list, a log line).
    /// </summary>
    public static bool IsValidSubjectPrefix(string? prefix) =>
        prefix is { Length: > 0 and <= 128 }
        && prefix.Split('.').All(token => token.Length > 0 && token.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));

    /// <summary>What a stream name may hold, for error messages.</summary>
    public const string StreamRule = "1 to 32 of A-Z, a-z, 0-9, '-' and '_'";

    /// <summary>
    /// JetStream stream names may not hold '.', '*', '&gt;', path separators or white space (they become API subject
    /// tokens and file names); this takes the safe part of that and keeps names short.
    /// </summary>
    public static bool IsValidStreamName(string? name) =>
        name is { Length: > 0 and <= 32 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
