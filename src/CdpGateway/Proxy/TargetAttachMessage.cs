using System.Text.Json;

namespace CdpGateway.Proxy;

/// <summary>
/// Chromium's <c>Target.attachedToTarget</c> and <c>Target.detachedFromTarget</c> events as the relay meets them on
/// their way to a client: <see cref="Recognise"/> tells them from every other message by their first bytes (Chromium
/// writes <c>{"method":"…"</c> first for events and <c>{"id":</c> first for replies), and <see cref="TryRead"/> takes
/// the session and target ids out of a message's first bytes (they come before the target's title and URL, which
/// may be long).
/// </summary>
public static class TargetAttachMessage
{
    public enum Kind
    {
        /// <summary>Not one of the two events.</summary>
        Other,

        Attached,
        Detached,

        /// <summary>The bytes so far cannot tell (a first chunk cut short, or keys in an order Chromium does not use).</summary>
        Undecided,
    }

    /// <summary>
    /// How far into a message that does not begin as Chromium writes its events the method's name is looked for; a peer
    /// that puts it later is not followed.
    /// </summary>
    public const int SearchWindow = 256;

    /// <summary>Longest session or target id taken (Chromium's are 32 hex digits).</summary>
    public const int MaxIdLength = 128;

    private static ReadOnlySpan<byte> MethodFirst => "{\"method\":\""u8;
    private static ReadOnlySpan<byte> IdFirst => "{\"id\":"u8;
    private static ReadOnlySpan<byte> AttachedName => "Target.attachedToTarget\""u8;
    private static ReadOnlySpan<byte> DetachedName => "Target.detachedFromTarget\""u8;
    private static ReadOnlySpan<byte> QuotedAttached => "\"Target.attachedToTarget\""u8;
    private static ReadOnlySpan<byte> QuotedDetached => "\"Target.detachedFromTarget\""u8;

    /// <summary>
    /// What a message is, from its first bytes (<paramref name="whole"/> when they are all of it). Every message Chromium
    /// sends passes here when the live view is on: a couple of span compares, no allocation.
    /// </summary>
    public static Kind Recognise(ReadOnlySpan<byte> first, bool whole)
    {
        if (first.StartsWith(MethodFirst))
        {
            var name = first[MethodFirst.Length..];
            if (name.StartsWith(AttachedName))
            {
                return Kind.Attached;
            }
            if (name.StartsWith(DetachedName))
            {
                return Kind.Detached;
            }
            return !whole && name.Length < DetachedName.Length && (AttachedName.StartsWith(name) || DetachedName.StartsWith(name))
                ? Kind.Undecided
                : Kind.Other;
        }
        if (first.StartsWith(IdFirst))
        {
            // A reply: Chromium announces every flattened session with the event, an attachToTarget's reply included.
            return Kind.Other;
        }
        if (!whole && first.Length < MethodFirst.Length && (MethodFirst.StartsWith(first) || IdFirst.StartsWith(first)))
        {
            return Kind.Undecided;
        }
        var window = first[..Math.Min(first.Length, SearchWindow)];
        if (window.IndexOf(QuotedAttached) >= 0 || window.IndexOf(QuotedDetached) >= 0)
        {
            return Kind.Undecided;
        }
        // Keys in another order, cut short before the window: what the rest holds is known once it is here.
        return !whole && first.Length < SearchWindow ? Kind.Undecided : Kind.Other;
    }

    /// <summary>
    /// Reads <paramref name="message"/> (all of it when <paramref name="complete"/>, else its first bytes): which of the
    /// two events it is, <c>params.sessionId</c>, and the target (<c>params.targetInfo.targetId</c> for an attach,
    /// <c>params.targetId</c> for a detach). False for any other message, malformed JSON, or ids not within the bytes.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> message, bool complete, out Kind kind, out string? sessionId, out string? targetId)
    {
        kind = Kind.Other;
        sessionId = null;
        targetId = null;
        var reader = new Utf8JsonReader(message, complete, default);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("method"u8))
                {
                    if (!reader.Read())
                    {
                        break;
                    }
                    kind = reader.TokenType != JsonTokenType.String ? Kind.Other
                        : reader.ValueTextEquals("Target.attachedToTarget"u8) ? Kind.Attached
                        : reader.ValueTextEquals("Target.detachedFromTarget"u8) ? Kind.Detached
                        : Kind.Other;
                    if (kind == Kind.Other)
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("params"u8))
                {
                    if (!reader.Read())
                    {
                        break;
                    }
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        return false;
                    }
                    if (!ReadParams(ref reader, ref sessionId, ref targetId))
                    {
                        break;
                    }
                }
                else if (!reader.Read() || !reader.TrySkip())
                {
                    break;
                }
                if (kind != Kind.Other && sessionId is not null && targetId is not null)
                {
                    break;
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }
        return kind switch
        {
            Kind.Attached => sessionId is not null && targetId is not null,
            Kind.Detached => sessionId is not null,
            _ => false,
        };
    }

    /// <summary>
    /// The ids within <c>params</c> (the reader on its start): its <c>sessionId</c>, and <c>targetInfo.targetId</c> or
    /// else its own <c>targetId</c>. False when the bytes ran out inside it (what was read by then stays read).
    /// </summary>
    private static bool ReadParams(ref Utf8JsonReader reader, ref string? sessionId, ref string? targetId)
    {
        string? ownTargetId = null;
        string? infoTargetId = null;
        try
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("sessionId"u8))
                {
                    if (!ReadId(ref reader, out var id))
                    {
                        return false;
                    }
                    sessionId = id ?? sessionId;
                }
                else if (reader.ValueTextEquals("targetId"u8))
                {
                    if (!ReadId(ref reader, out ownTargetId))
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("targetInfo"u8))
                {
                    if (!reader.Read())
                    {
                        return false;
                    }
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        if (!ReadTargetInfo(ref reader, ref infoTargetId))
                        {
                            return false;
                        }
                    }
                    else if (!reader.TrySkip())
                    {
                        return false;
                    }
                }
                else if (!reader.Read() || !reader.TrySkip())
                {
                    return false;
                }
            }
            return reader.TokenType == JsonTokenType.EndObject;
        }
        finally
        {
            targetId = infoTargetId ?? ownTargetId ?? targetId;
        }
    }

    /// <summary>The target's own id within <c>targetInfo</c> (the reader on its start); false when the bytes ran out inside it.</summary>
    private static bool ReadTargetInfo(ref Utf8JsonReader reader, ref string? targetId)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("targetId"u8))
            {
                if (!ReadId(ref reader, out targetId))
                {
                    return false;
                }
            }
            else if (!reader.Read() || !reader.TrySkip())
            {
                return false;
            }
        }
        return reader.TokenType == JsonTokenType.EndObject;
    }

    /// <summary>A property's value (the reader on its name) as an id: null when it is no short plain string; false when the bytes ran out.</summary>
    private static bool ReadId(ref Utf8JsonReader reader, out string? id)
    {
        id = null;
        if (!reader.Read())
        {
            return false;
        }
        if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && reader.ValueSpan.Length is > 0 and <= MaxIdLength)
        {
            id = reader.GetString();
            return true;
        }
        return reader.TrySkip();
    }
}
