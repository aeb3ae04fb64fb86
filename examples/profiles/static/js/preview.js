/** Shows the image chosen in `input` in `img` before it is uploaded. */
export function previewImage(input, img) {
  const file = input.files && input.files[0]
  if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src)
  if (!file || !file.type.startsWith('image/')) {
    img.classList.remove('visible')
    return
  }
  img.src = URL.createObjectURL(file)
  img.classList.add('visible')
}
