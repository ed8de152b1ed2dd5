using System.Text;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Reads the content of a JSON string (the bytes between its quotes, escapes still in place) one UTF-16 code unit at
/// a time, without materializing it. Never throws: invalid UTF-8 reads as U+FFFD per maximal invalid sequence and a
/// lone surrogate escape (<c>\ud800</c>) reads as that code unit, so client text can be measured, clipped and
/// compared without trusting it. The content is expected to have passed <see cref="System.Text.Json.Utf8JsonReader"/>
/// (escapes well formed); anything else still reads without throwing.
/// </summary>
internal ref struct JsonStringChars
{
    private readonly ReadOnlySpan<byte> _content;
    private int _pos;
    private char _pendingLow;

    public JsonStringChars(ReadOnlySpan<byte> content)
    {
        _content = content;
        _pos = 0;
        _pendingLow = '\0';
    }

    public bool TryRead(out char c)
    {
        if (_pendingLow != '\0')
        {
            c = _pendingLow;
            _pendingLow = '\0';
            return true;
        }
        if (_pos >= _content.Length)
        {
            c = '\0';
            return false;
        }

        byte b = _content[_pos];
        if (b == (byte)'\\')
        {
            c = ReadEscape();
            return true;
        }
        if (b < 0x80)
        {
            c = (char)b;
            _pos++;
            return true;
        }

        Rune.DecodeFromUtf8(_content[_pos..], out Rune rune, out int consumed);
        _pos += Math.Max(1, consumed);
        if (rune.IsBmp)
        {
            c = (char)rune.Value;
        }
        else
        {
            c = (char)(0xD800 + ((rune.Value - 0x10000) >> 10));
            _pendingLow = (char)(0xDC00 + ((rune.Value - 0x10000) & 0x3FF));
        }
        return true;
    }

    private char ReadEscape()
    {
        if (_pos + 1 >= _content.Length)
        {
            _pos = _content.Length;
            return '\uFFFD';
        }
        byte e = _content[_pos + 1];
        _pos += 2;
        switch (e)
        {
            case (byte)'"': return '"';
            case (byte)'\\': return '\\';
            case (byte)'/': return '/';
            case (byte)'b': return '\b';
            case (byte)'f': return '\f';
            case (byte)'n': return '\n';
            case (byte)'r': return '\r';
            case (byte)'t': return '\t';
            case (byte)'u':
                if (_pos + 4 > _content.Length)
                {
                    _pos = _content.Length;
                    return '\uFFFD';
                }
                int value = 0;
                for (int i = 0; i < 4; i++)
                {
                    int digit = HexValue(_content[_pos + i]);
                    if (digit < 0)
                    {
                        _pos += i;
                        return '\uFFFD';
                    }
                    value = (value << 4) | digit;
                }
                _pos += 4;
                return (char)value;
            default:
                return '\uFFFD';
        }
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}

/// <summary>Measurements of client strings that never copy or echo their content.</summary>
internal static class JsonStringText
{
    /// <summary>
    /// The string's length in UTF-16 code units (what <c>String.prototype.length</c> gives in the client and what
    /// Chromium's own strings count): "é" is 1, "😀" is 2.
    /// </summary>
    public static int Utf16Length(ReadOnlySpan<byte> content)
    {
        if (content.IndexOf((byte)'\\') < 0)
        {
            return Encoding.UTF8.GetCharCount(content);
        }
        var chars = new JsonStringChars(content);
        int count = 0;
        while (chars.TryRead(out _))
        {
            count++;
        }
        return count;
    }

    /// <summary>
    /// The decoded string clipped to at most <paramref name="maxUtf8Bytes"/> bytes of UTF-8 at a scalar boundary.
    /// Lone surrogates become U+FFFD (3 bytes), so the result always encodes within the bound.
    /// </summary>
    public static string Clip(ReadOnlySpan<byte> content, int maxUtf8Bytes)
    {
        Span<char> buffer = stackalloc char[maxUtf8Bytes];
        return new string(buffer[..ClipInto(content, maxUtf8Bytes, buffer)]);
    }

    /// <summary>
    /// <see cref="Clip"/> into <paramref name="buffer"/> (at least <paramref name="maxUtf8Bytes"/> chars) without
    /// allocating; returns the number of chars written.
    /// </summary>
    public static int ClipInto(ReadOnlySpan<byte> content, int maxUtf8Bytes, Span<char> buffer)
    {
        var chars = new JsonStringChars(content);
        int written = 0;
        int bytes = 0;
        bool havePending = false;
        char pending = '\0';
        while (true)
        {
            char c;
            if (havePending)
            {
                c = pending;
                havePending = false;
            }
            else if (!chars.TryRead(out c))
            {
                break;
            }

            int size;
            char low = '\0';
            bool pair = false;
            if (char.IsHighSurrogate(c))
            {
                if (chars.TryRead(out char next))
                {
                    if (char.IsLowSurrogate(next))
                    {
                        low = next;
                        pair = true;
                    }
                    else
                    {
                        // A lone high surrogate: what followed it is looked at on the next turn.
                        pending = next;
                        havePending = true;
                    }
                }
                if (!pair)
                {
                    c = '\uFFFD';
                }
                size = pair ? 4 : 3;
            }
            else if (char.IsLowSurrogate(c))
            {
                c = '\uFFFD';
                size = 3;
            }
            else
            {
                size = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
            }

            if (bytes + size > maxUtf8Bytes)
            {
                break;
            }
            bytes += size;
            buffer[written++] = c;
            if (pair)
            {
                buffer[written++] = low;
            }
        }
        return written;
    }

    /// <summary>
    /// Whether the reader's current name or string is <paramref name="expected"/> (ASCII). Unlike
    /// <see cref="System.Text.Json.Utf8JsonReader.ValueTextEquals(ReadOnlySpan{byte})"/>, an escape that is not valid
    /// UTF-16 (a lone surrogate) only makes a different name: the reader's InvalidOperationException would otherwise
    /// escape every parser that catches JsonException alone, on a frame any client can send.
    /// </summary>
    public static bool NameEquals(ref System.Text.Json.Utf8JsonReader reader, ReadOnlySpan<byte> expected)
    {
        if (!reader.ValueIsEscaped)
        {
            return reader.ValueTextEquals(expected);
        }
        Span<char> decoded = stackalloc char[expected.Length];
        if (reader.HasValueSequence || !TryDecodeShort(reader.ValueSpan, decoded, out int written) || written != expected.Length)
        {
            return false;
        }
        for (int i = 0; i < written; i++)
        {
            if (decoded[i] != expected[i])
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Decodes the string into <paramref name="destination"/> when it fits; false (nothing usable) when it is longer.
    /// </summary>
    public static bool TryDecodeShort(ReadOnlySpan<byte> content, Span<char> destination, out int written)
    {
        written = 0;
        // Every code unit takes at least one byte, and an escape at most 6 bytes.
        if (content.Length > destination.Length * 6)
        {
            return false;
        }
        var chars = new JsonStringChars(content);
        while (chars.TryRead(out char c))
        {
            if (written == destination.Length)
            {
                written = 0;
                return false;
            }
            destination[written++] = c;
        }
        return true;
    }
}
