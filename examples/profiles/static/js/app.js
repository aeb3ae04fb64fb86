// Progressive enhancement only: every form works without JavaScript.
// A classic (non-module) script on purpose: module scripts are fetched with
// CORS, which a bucket or CDN serving collected static files would then
// have to be configured for.
;(function () {
  function previewImage(input, img) {
    var file = input.files && input.files[0]
    if (img.src.indexOf('blob:') === 0) URL.revokeObjectURL(img.src)
    if (!file || file.type.indexOf('image/') !== 0) {
      img.classList.remove('visible')
      return
    }
    img.src = URL.createObjectURL(file)
    img.classList.add('visible')
  }

  document.querySelectorAll('input[type="file"][data-preview]').forEach(function (input) {
    var img = document.getElementById(input.dataset.preview)
    if (img)
      input.addEventListener('change', function () {
        previewImage(input, img)
      })
  })

  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault()
    })
  })

  document.documentElement.dataset.js = 'ready'
})()
