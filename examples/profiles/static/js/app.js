// Progressive enhancement only: every form works without JavaScript.
// The import below is rewritten to the hashed file name by collectstatic.
import { previewImage } from './preview.js'

for (const input of document.querySelectorAll('input[type="file"][data-preview]')) {
  const img = document.getElementById(input.dataset.preview)
  if (img) input.addEventListener('change', () => previewImage(input, img))
}

for (const form of document.querySelectorAll('form[data-confirm]')) {
  form.addEventListener('submit', (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault()
  })
}

document.documentElement.dataset.js = 'ready'
