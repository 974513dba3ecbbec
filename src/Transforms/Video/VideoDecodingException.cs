namespace MLNetExtensions.Transforms.Video;

/// <summary>A video file exists but could not be decoded as requested (not a video, unreadable, or too few frames).</summary>
public sealed class VideoDecodingException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The video file concerned.</param>
    /// <param name="message">What went wrong; should name the file.</param>
    /// <param name="innerException">Underlying failure, if any.</param>
    public VideoDecodingException(string filePath, string message, Exception? innerException = null)
        : base(message, innerException) => FilePath = filePath;

    /// <summary>The video file concerned.</summary>
    public string FilePath { get; }
}
