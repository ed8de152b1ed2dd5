namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Recognises JSON number tokens whose text already is what <see cref="System.Text.Json.Utf8JsonWriter"/> prints for
/// their value, once trailing fraction zeros are dropped: <c>100</c>, <c>-0</c>, <c>412.5</c>, <c>0.25</c>, <c>3.0</c>
/// (prints <c>3</c>). Mouse and touch coordinates are nearly all like that, and copying their digits skips a
/// double parse and a shortest-round-trip format per coordinate, the costliest part of a pointer event's payload.
/// </summary>
/// <remarks>
/// Only where the two agree by construction: no exponent, at most 15 digits in all (every such decimal survives
/// the trip through a double and back unchanged, and stays below 1e15, where the writer switches to E notation), and
/// no value under 1e-4 (where it switches too). Everything else goes through the double as before.
/// </remarks>
internal static class PlainDecimal
{
    private const int MaxDigits = 15;

    // Fraction zeros after "0." from which the writer prints E notation (0.0001 prints as is, 0.00001 as 1E-05).
    private const int MaxLeadingFractionZeros = 3;

    /// <summary>
    /// True when <paramref name="token"/> (a valid JSON number) prints as its own first <paramref name="length"/> bytes.
    /// </summary>
    public static bool TryGetCanonicalLength(ReadOnlySpan<byte> token, out int length)
    {
        length = 0;
        int i = token.Length > 0 && token[0] == (byte)'-' ? 1 : 0;
        int integerStart = i;
        while (i < token.Length && char.IsAsciiDigit((char)token[i]))
        {
            i++;
        }
        int digits = i - integerStart;
        if (digits == 0 || digits > MaxDigits)
        {
            return false;
        }
        int end = i;
        if (i < token.Length)
        {
            if (token[i] != (byte)'.')
            {
                return false; // an exponent
            }
            int fractionStart = ++i;
            while (i < token.Length && char.IsAsciiDigit((char)token[i]))
            {
                i++;
            }
            if (i != token.Length || i == fractionStart)
            {
                return false;
            }
            int fractionEnd = i;
            while (fractionEnd > fractionStart && token[fractionEnd - 1] == (byte)'0')
            {
                fractionEnd--;
            }
            if (fractionEnd > fractionStart)
            {
                digits += fractionEnd - fractionStart;
                bool zeroInteger = end - integerStart == 1 && token[integerStart] == (byte)'0';
                int leadingZeros = token[fractionStart..fractionEnd].IndexOfAnyExcept((byte)'0');
                if (digits > MaxDigits || (zeroInteger && leadingZeros > MaxLeadingFractionZeros))
                {
                    return false;
                }
                end = fractionEnd;
            }
        }
        length = end;
        return true;
    }
}
