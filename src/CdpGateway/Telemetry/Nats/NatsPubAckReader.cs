using System.Text.Json;
using NATS.Client.JetStream.Models;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// Reads JetStream's publish reply (<c>{"stream":..,"seq":..,"duplicate":true}</c> or <c>{"error":{..}}</c>) straight
/// from the received bytes: one reply arrives per event shipped, so a stored ack allocates nothing. Never throws: what
/// it cannot read is a reply that is neither an ack nor an error.
/// </summary>
public static class NatsPubAckReader
{
    public static NatsPubAck Read(long id, ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            return new NatsPubAck(id, false, false, null);
        }
        try
        {
            return ReadObject(id, json);
        }
        catch (JsonException)
        {
            return new NatsPubAck(id, false, false, null);
        }
    }

    private static NatsPubAck ReadObject(long id, ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return new NatsPubAck(id, false, false, null);
        }
        bool stream = false;
        bool duplicate = false;
        ApiError? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("stream"u8))
            {
                reader.Read();
                stream = reader.TokenType == JsonTokenType.String;
            }
            else if (reader.ValueTextEquals("duplicate"u8))
            {
                reader.Read();
                duplicate = reader.TokenType == JsonTokenType.True;
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                error = ReadError(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return new NatsPubAck(id, stream && error is null, duplicate, error);
    }

    private static ApiError ReadError(ref Utf8JsonReader reader)
    {
        var error = new ApiError();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return error;
        }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("code"u8))
            {
                reader.Read();
                error.Code = reader.TokenType == JsonTokenType.Number ? reader.GetInt32() : 0;
            }
            else if (reader.ValueTextEquals("err_code"u8))
            {
                reader.Read();
                error.ErrCode = reader.TokenType == JsonTokenType.Number ? reader.GetInt32() : 0;
            }
            else if (reader.ValueTextEquals("description"u8))
            {
                reader.Read();
                error.Description = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return error;
    }
}
