// Where the editor's picture comes from, as pure functions (no DOM, no host imports).

/**
 * Whether a node of this type outputs its `image` widget's file as it is, so the editor may
 * show the file before a run: the host's loaders. Another node with an `image` widget (a
 * loader that also resizes, say) may send the Spec node other pixels than its file's; the
 * editor then shows the run's own preview of what the Spec node got.
 */
export function outputsItsFile(type) {
  return type === "LoadImage" || type === "LoadImageOutput";
}

/**
 * A LoadImage widget value ("name.png", "sub/dir/name.png [output]") -> the /view query
 * parameters of the full-size file: {filename, subfolder, type}.
 */
export function parseImageValue(value) {
  const m = /^(.*?)(?: \[(input|output|temp)\])?$/.exec(String(value).trim());
  const path = m[1];
  const cut = path.lastIndexOf("/");
  return {
    filename: cut < 0 ? path : path.slice(cut + 1),
    subfolder: cut < 0 ? "" : path.slice(0, cut),
    type: m[2] ?? "input",
  };
}

/**
 * The /view path (to pass through api.apiURL, which adds any sub-path the host is served
 * under) for a file. No preview-format parameter: a re-encoded preview may be resized, and
 * the editor's pixels must be the image's pixels.
 */
export function viewPath({ filename, subfolder = "", type = "input" }) {
  return `/view?${new URLSearchParams({ filename, type, subfolder })}`;
}
